package pades

import (
	"errors"
	"fmt"
	"slices"
)

// catalog returns the document catalog (trailer /Root).
func (d *document) catalog() (ref, dict, error) {
	r, _ := d.trailer["Root"].(ref)
	c, err := d.resolveDict(r)
	if err != nil {
		return r, nil, fmt.Errorf("catalog %v: %w", r, err)
	}
	if c == nil {
		return r, nil, fmt.Errorf("catalog %v is not a dictionary", r)
	}
	return r, c, nil
}

// page finds page number n (1-based) by walking only the page-tree path to
// it, using /Count to skip whole subtrees (§7.7.3.2).
func (d *document) page(n int) (ref, dict, error) {
	_, cat, err := d.catalog()
	if err != nil {
		return ref{}, nil, err
	}
	node, ok := cat["Pages"].(ref)
	if !ok {
		return ref{}, nil, errors.New("catalog has no /Pages reference")
	}
	if n < 1 {
		return ref{}, nil, fmt.Errorf("page %d out of range", n)
	}
	remaining := n - 1
	var vb [8]int // the path walked: at most 64 nodes, usually a few
	visited := vb[:0]
	for depth := 0; depth < 64; depth++ {
		if slices.Contains(visited, node.num) {
			return ref{}, nil, errors.New("page tree has a cycle")
		}
		visited = append(visited, node.num)
		nd, err := d.resolveDict(node)
		if err != nil {
			return ref{}, nil, fmt.Errorf("page tree node %v: %w", node, err)
		}
		if nd == nil {
			return ref{}, nil, fmt.Errorf("page tree node %v missing", node)
		}
		if nd.name("Type") == "Page" || (nd["Kids"] == nil && nd.name("Type") != "Pages") {
			if remaining == 0 {
				return node, nd, nil
			}
			return ref{}, nil, fmt.Errorf("page %d out of range", n)
		}
		kids, err := d.resolveArray(nd["Kids"])
		if err != nil {
			return ref{}, nil, err
		}
		count, _ := d.resolveInt(nd["Count"])
		// When a node's /Count equals its number of kids every kid is a leaf
		// (no page node has /Count 0 in sane files), so index directly.
		if int(count) == len(kids) && remaining < len(kids) {
			if k, ok := kids[remaining].(ref); ok {
				kd, err := d.resolveDict(k)
				if err == nil && kd != nil && kd.name("Type") == "Page" {
					return k, kd, nil
				}
			}
		}
		next := ref{-1, 0}
		for _, kid := range kids {
			k, ok := kid.(ref)
			if !ok {
				continue
			}
			kd, err := d.resolveDict(k)
			if err != nil {
				return ref{}, nil, fmt.Errorf("page tree kid %v: %w", k, err)
			}
			if kd == nil {
				continue
			}
			c := int64(1)
			if kd.name("Type") == "Pages" || (kd.name("Type") != "Page" && kd["Kids"] != nil) {
				c, _ = d.resolveInt(kd["Count"])
			}
			if remaining < int(c) {
				next = k
				break
			}
			remaining -= int(c)
		}
		if next.num < 0 {
			return ref{}, nil, fmt.Errorf("page %d out of range", n)
		}
		node = next
	}
	return ref{}, nil, errors.New("page tree too deep")
}

// pageCount is the root page-tree node's /Count.
func (d *document) pageCount() (int, error) {
	_, cat, err := d.catalog()
	if err != nil {
		return 0, err
	}
	pages, err := d.resolveDict(cat["Pages"])
	if err != nil || pages == nil {
		return 0, fmt.Errorf("page tree root: %v", err)
	}
	c, _ := d.resolveInt(pages["Count"])
	return int(c), nil
}
