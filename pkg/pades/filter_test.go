package pades

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"testing"
)

func zlibBytes(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// inflate checks the Adler-32 checksum whenever it is there: a damaged one
// fails, a stream cut before it keeps what decoded.
func TestInflate_ChecksumAlwaysVerified(t *testing.T) {
	plain := bytes.Repeat([]byte("1 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"), 200)
	good := zlibBytes(plain)
	if got, err := inflate(good); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("valid stream: %d bytes, %v", len(got), err)
	}
	badSum := bytes.Clone(good)
	binary.BigEndian.PutUint32(badSum[len(badSum)-4:], binary.BigEndian.Uint32(badSum[len(badSum)-4:])+1)
	if _, err := inflate(badSum); err == nil {
		t.Fatal("a wrong Adler-32 checksum was accepted")
	}
	if got, err := inflate(good[:len(good)-4]); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("stream without its checksum: %d bytes, %v", len(got), err)
	}
	for _, bad := range [][]byte{nil, {0x78}, {0x00, 0x00, 0x01}, []byte("plain text")} {
		if _, err := inflate(bad); err == nil {
			t.Errorf("inflate(%q) succeeded", bad)
		}
	}
	// Readers are recycled: a failed stream must not poison the next one.
	if got, err := inflate(good); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("after failures: %d bytes, %v", len(got), err)
	}
}
