package audit

// HashOf exposes the event hash to the tests, which build version 1 chains
// the way the code before chain heads wrote them.
var HashOf = hashOf
