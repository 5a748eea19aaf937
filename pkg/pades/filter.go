package pades

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxDecoded bounds the decoded size of the streams the reader needs (xref
// and object streams) so that a compression bomb cannot exhaust memory.
const maxDecoded = 32 << 20

// decodeStream applies the stream's filters to raw. Only what xref streams
// and object streams use in practice is supported: FlateDecode with PNG or
// no predictor.
func decodeStream(d dict, raw []byte) ([]byte, error) {
	filters := []any{}
	switch f := d["Filter"].(type) {
	case nil:
	case name:
		filters = append(filters, f)
	case array:
		filters = f
	default:
		return nil, errors.New("bad /Filter")
	}
	var parms []any
	switch p := d["DecodeParms"].(type) {
	case dict:
		parms = []any{p}
	case array:
		parms = p
	}
	data := raw
	for i, f := range filters {
		fn, _ := f.(name)
		var parm dict
		if i < len(parms) {
			parm, _ = parms[i].(dict)
		}
		switch fn {
		case "FlateDecode", "Fl":
			out, err := inflate(data)
			if err != nil {
				return nil, err
			}
			if data, err = unpredict(out, parm); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unsupported filter /%s", fn)
		}
	}
	return data, nil
}

// zlibReaders recycles zlib readers: a new one allocates and clears a 32 KB
// window and its Huffman tables, which weighed on reading a small file's
// xref and object streams.
var zlibReaders sync.Pool

// inflate decodes a zlib (RFC 1950) stream with compress/zlib, which checks
// the Adler-32 checksum. A stream cut short before its checksum — common
// in the wild, and harmless — keeps what decoded, as other readers do; a
// checksum that is present and wrong means damaged data and fails.
func inflate(data []byte) ([]byte, error) {
	src := bytes.NewReader(data)
	var zr io.ReadCloser
	if r, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := r.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, fmt.Errorf("inflate: %w", err)
		}
		zr = r
	} else {
		r, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("inflate: %w", err)
		}
		zr = r
	}
	defer func() {
		zr.Close()
		zlibReaders.Put(zr)
	}()
	// Xref and object streams typically compress 3–6×: start there rather
	// than at io.ReadAll's 512 bytes (capped, so a guess never costs much).
	out := make([]byte, 0, min(4*len(data)+512, 1<<20))
	var err error
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		var n int
		n, err = zr.Read(out[len(out):min(cap(out), maxDecoded+1)])
		out = out[:len(out)+n]
		if len(out) > maxDecoded {
			return nil, errors.New("inflate: stream too large")
		}
		if err != nil {
			break
		}
	}
	switch {
	case err == io.EOF:
		return out, nil
	case errors.Is(err, io.ErrUnexpectedEOF) && len(out) > 0:
		return out, nil
	}
	return nil, fmt.Errorf("inflate: %w", err)
}

func intParam(d dict, k name, def int64) int64 {
	if v, ok := d[k].(int64); ok {
		return v
	}
	return def
}

// unpredict reverses a PNG predictor (Predictor >= 10); TIFF predictor 2 is
// not used by xref or object streams and is rejected.
func unpredict(data []byte, parm dict) ([]byte, error) {
	pred := intParam(parm, "Predictor", 1)
	if pred == 1 {
		return data, nil
	}
	if pred < 10 || pred > 15 {
		return nil, fmt.Errorf("unsupported predictor %d", pred)
	}
	colors, bpc, cols := intParam(parm, "Colors", 1), intParam(parm, "BitsPerComponent", 8), intParam(parm, "Columns", 1)
	if colors < 1 || colors > 32 || bpc < 1 || bpc > 16 || cols < 1 || cols > 1<<20 {
		return nil, errors.New("bad predictor parameters")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((cols*colors*bpc + 7) / 8)
	// A row longer than the data can only be a partial last row; cap it so
	// hostile /Columns cannot force a huge allocation.
	rowLen = min(rowLen, len(data))
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	row := make([]byte, rowLen)
	for len(data) > 0 {
		ft := data[0]
		n := min(rowLen, len(data)-1)
		clear(row)
		copy(row, data[1:1+n])
		data = data[1+n:]
		for i := 0; i < rowLen; i++ {
			var left, upLeft byte
			if i >= bpp {
				left, upLeft = row[i-bpp], prev[i-bpp]
			}
			up := prev[i]
			switch ft {
			case 0:
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, upLeft)
			default:
				return nil, fmt.Errorf("bad PNG filter type %d", ft)
			}
		}
		out = append(out, row[:n]...)
		prev, row = row, prev
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
