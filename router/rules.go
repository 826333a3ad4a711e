package router

import (
	"fmt"
	"regexp"
	"strconv"
)

// RuleSpec is a configured routing rule: statements whose text matches
// Match (a regular expression), or whose normalised digest is Digest (hex),
// go where Route says ("master" or "replica").
type RuleSpec struct {
	Match, Digest, Route string
}

// Rules are compiled routing rules, checked in order; the first match wins.
type Rules struct {
	list       []rule
	needDigest bool
}

type rule struct {
	re     *regexp.Regexp
	digest uint64
	hint   Hint
}

// CompileRules compiles specs; nil specs give nil Rules (no cost per query).
func CompileRules(specs []RuleSpec) (*Rules, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	r := &Rules{}
	for i, s := range specs {
		var ru rule
		switch s.Route {
		case "master":
			ru.hint = HintMaster
		case "replica":
			ru.hint = HintReplica
		default:
			return nil, fmt.Errorf("rule %d: route must be master or replica, got %q", i, s.Route)
		}
		switch {
		case s.Match != "" && s.Digest == "":
			re, err := regexp.Compile(s.Match)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, err)
			}
			ru.re = re
		case s.Digest != "" && s.Match == "":
			d, err := strconv.ParseUint(s.Digest, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("rule %d: digest: %w", i, err)
			}
			ru.digest = d
			r.needDigest = true
		default:
			return nil, fmt.Errorf("rule %d: give exactly one of match or digest", i)
		}
		r.list = append(r.list, ru)
	}
	return r, nil
}

// Apply returns c adjusted by the first matching rule. A master rule sends
// the statement to the master; a replica rule acts like a replica hint in
// the text, so it never moves a write, a locking read or pinned state off
// the master.
func (r *Rules) Apply(sql string, c Class) Class {
	if r == nil {
		return c
	}
	var digest uint64
	if r.needDigest {
		digest = Digest(sql)
	}
	for _, ru := range r.list {
		if ru.re != nil && !ru.re.MatchString(sql) {
			continue
		}
		if ru.re == nil && ru.digest != digest {
			continue
		}
		if ru.hint == HintMaster {
			c.Hint = HintMaster
			return c
		}
		return Classify("/* switchyard:replica */ " + sql)
	}
	return c
}
