package i18n

// catalogue holds every message of every language by id.
var catalogue = map[Lang]map[string]string{
	English: en, French: fr, Czech: cs, Norwegian: nb, Kazakh: kk, Russian: ru,
}
