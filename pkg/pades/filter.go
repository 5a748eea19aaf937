package pades

import (
	"bytes"
	"compress/flate"
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

// inflaters recycle flate readers: a new one allocates and clears a 32 KB
// window and large Huffman tables, which dominated the cost of reading a
// small file's xref and object streams. The zlib wrapper (RFC 1950) is read
// here rather than by compress/zlib: its Adler-32 checksum only matters when
// nothing decodes (damaged streams keep what decoded, see inflate), so it is
// verified only then instead of being computed over every byte.
var inflaters sync.Pool

type inflater struct {
	src bytes.Reader
	fr  io.ReadCloser
}

var (
	errZlibHeader     = errors.New("zlib: invalid header")
	errZlibDictionary = errors.New("zlib: invalid dictionary")
	errZlibChecksum   = errors.New("zlib: invalid checksum")
)

func inflate(data []byte) ([]byte, error) {
	// The header checks of compress/zlib's reader, in its order.
	if len(data) < 2 {
		return nil, fmt.Errorf("inflate: %w", io.ErrUnexpectedEOF)
	}
	if data[0]&0x0f != 8 || data[0]>>4 > 7 || (uint16(data[0])<<8|uint16(data[1]))%31 != 0 {
		return nil, fmt.Errorf("inflate: %w", errZlibHeader)
	}
	if data[1]&0x20 != 0 {
		// A preset dictionary, which PDF streams never have.
		if len(data) < 6 {
			return nil, fmt.Errorf("inflate: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("inflate: %w", errZlibDictionary)
	}
	// Xref and object streams typically compress 3–6×: start there rather
	// than at io.ReadAll's 512 bytes (capped, so a guess never costs much).
	sizeHint := min(4*len(data)+512, 1<<20)
	if out, ok := fastInflate(data[2:], sizeHint, maxDecoded); ok && len(out) > 0 {
		return out, nil
	}
	z, _ := inflaters.Get().(*inflater)
	if z == nil {
		z = &inflater{}
		z.src.Reset(data[2:])
		z.fr = flate.NewReader(&z.src)
	} else {
		z.src.Reset(data[2:])
		z.fr.(flate.Resetter).Reset(&z.src, nil)
	}
	defer func() {
		z.fr.Close()
		z.src.Reset(nil)
		inflaters.Put(z)
	}()
	out := make([]byte, 0, sizeHint)
	var err error
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		var n int
		n, err = z.fr.Read(out[len(out):min(cap(out), maxDecoded+1)])
		out = out[:len(out)+n]
		if len(out) > maxDecoded {
			return nil, errors.New("inflate: stream too large")
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
		if len(out) == 0 {
			// The checksum of nothing is 1; flate read exactly up to it.
			var sum [4]byte
			if _, e := io.ReadFull(&z.src, sum[:]); e != nil {
				err = io.ErrUnexpectedEOF
			} else if sum != [4]byte{0, 0, 0, 1} {
				err = errZlibChecksum
			}
		}
	}
	// Truncated or checksum-damaged streams are common in the wild; keep
	// what decoded, as other readers do.
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	return out, nil
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
