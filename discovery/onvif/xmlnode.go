package onvif

import "encoding/xml"

// node is an XML element read generically: operations look up the few values they need by
// local name (clients differ in prefixes, and sometimes in namespaces, but not in names).
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

// child follows a path of local names down from n; nil when any step is missing.
func (n *node) child(path ...string) *node {
	cur := n
	for _, name := range path {
		if cur == nil {
			return nil
		}
		var next *node
		for i := range cur.Nodes {
			if cur.Nodes[i].XMLName.Local == name {
				next = &cur.Nodes[i]
				break
			}
		}
		cur = next
	}
	return cur
}

// text is the character data of the element at path below n, "" when it is missing.
func (n *node) text(path ...string) string {
	if c := n.child(path...); c != nil {
		return c.Text
	}
	return ""
}

// attr is the value of n's attribute with this local name, "" when it has none.
func (n *node) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
