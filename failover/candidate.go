package failover

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// Promotion is a node's promotion rule from the configuration.
type Promotion string

const (
	PromotePrefer  Promotion = "prefer"
	PromoteNeutral Promotion = "neutral" // also the meaning of ""
	PromoteNever   Promotion = "never"
)

// Refusals; the returned errors wrap one of these with the details.
var (
	ErrNoCandidate = errors.New("no eligible candidate")
	// ErrIncomparable: no eligible replica has everything every other
	// eligible one has (MariaDB: ahead in one domain, behind in another).
	ErrIncomparable = errors.New("candidate positions are incomparable")
	// ErrWouldLoseTransactions: the winner lacks transactions another
	// reachable replica has (invariant 7).
	ErrWouldLoseTransactions = errors.New("candidate lacks transactions another replica has")
	// ErrNotEligible: a forced candidate cannot be promoted.
	ErrNotEligible = errors.New("node cannot be promoted")
)

// ChooseOptions says what is being replaced.
type ChooseOptions struct {
	// Failed names the master being replaced; it is never a candidate, and
	// only replicas replicating from its address (or with no known master
	// address) are considered.
	Failed string
	// Switchover: the old master is alive and the winner will be made to
	// catch up with it before promotion, so candidates need not already
	// contain each other; incomparable positions do not refuse.
	Switchover bool
}

// Skipped is a replica left out of the choice, and why.
type Skipped struct {
	Name   string
	Reason string
}

// Choice is the outcome of a candidate choice.
type Choice struct {
	Winner string
	// Position is the winner's position once its relay log is applied
	// (executed ∪ received): wait for it (WaitForPosition) before promoting.
	Position gtid.Set
	Reason   string
	Skipped  []Skipped
}

type ranked struct {
	n     NodeStatus
	order int
	pos   gtid.Set
}

// ChooseCandidate picks the replica to promote in place of opts.Failed.
// Among reachable replicas of the failed master it skips promotion=never,
// maintenance, delayed (SQLDelay > 0) and broken (SQL thread error) ones;
// the most advanced position (executed ∪ received, since the relay log is
// applied before promotion) wins; ties go to promotion=prefer, then lowest
// lag (unknown lag last), then configuration order. It refuses when no
// eligible replica has everything the other eligible ones have, or when the
// winner lacks anything any reachable replica (eligible or not) has.
func ChooseCandidate(nodes []NodeStatus, opts ChooseOptions) (Choice, error) {
	eligible, witnesses, skipped := classify(nodes, opts)
	ch := Choice{Skipped: skipped}
	if len(eligible) == 0 {
		return ch, fmt.Errorf("%w to replace %s%s", ErrNoCandidate, opts.Failed, skippedText(skipped))
	}

	var top []ranked
	for _, c := range eligible {
		all := true
		for _, o := range eligible {
			if !c.pos.Contains(o.pos) {
				all = false
				break
			}
		}
		if all {
			top = append(top, c)
		}
	}
	if len(top) == 0 {
		if !opts.Switchover {
			return ch, fmt.Errorf("%w: %s", ErrIncomparable, positionsText(eligible))
		}
		top = eligible
	}
	sort.SliceStable(top, func(i, j int) bool { return better(top[i], top[j]) })
	w := top[0]
	ch.Winner, ch.Position = w.n.Name, w.pos

	if !opts.Switchover {
		if err := coversWitnesses(w, witnesses); err != nil {
			ch.Winner = ""
			return ch, err
		}
	}
	ch.Reason = winReason(w, top, len(eligible)) + skippedText(skipped)
	return ch, nil
}

// ValidateCandidate checks a forced choice (FAILOVER TO 'node', SWITCHOVER
// TO 'node') and says why it cannot be promoted.
func ValidateCandidate(nodes []NodeStatus, name string, opts ChooseOptions) (Choice, error) {
	if name == opts.Failed {
		return Choice{}, fmt.Errorf("%w: %s is the master being replaced", ErrNotEligible, name)
	}
	eligible, witnesses, skipped := classify(nodes, opts)
	for _, s := range skipped {
		if s.Name == name {
			return Choice{Skipped: skipped}, fmt.Errorf("%w: %s: %s", ErrNotEligible, name, s.Reason)
		}
	}
	for _, c := range eligible {
		if c.n.Name != name {
			continue
		}
		ch := Choice{Winner: name, Position: c.pos, Skipped: skipped, Reason: "chosen by operator"}
		if !opts.Switchover {
			var others []ranked
			for _, o := range eligible {
				if o.n.Name != name {
					others = append(others, o)
				}
			}
			if err := coversWitnesses(c, append(others, witnesses...)); err != nil {
				ch.Winner = ""
				return ch, err
			}
		}
		return ch, nil
	}
	return Choice{Skipped: skipped}, fmt.Errorf("%w: %s is not a configured node", ErrNotEligible, name)
}

// classify splits the replicas of the failed master into eligible
// candidates, reachable witnesses that may not be promoted but whose
// transactions must not be lost, and skipped nodes with reasons.
func classify(nodes []NodeStatus, opts ChooseOptions) (eligible, witnesses []ranked, skipped []Skipped) {
	failedAddr := ""
	for _, n := range nodes {
		if n.Name == opts.Failed {
			failedAddr = n.Address
		}
	}
	for i, n := range nodes {
		if n.Name == opts.Failed {
			continue
		}
		skip := func(why string) { skipped = append(skipped, Skipped{Name: n.Name, Reason: why}) }
		if n.Role != topology.RoleReplica {
			skip(fmt.Sprintf("role is %s", n.Role))
			continue
		}
		if failedAddr != "" && n.MasterAddress != "" && n.MasterAddress != failedAddr {
			skip("replicates from " + n.MasterAddress)
			continue
		}
		if !n.Reachable {
			skip("unreachable")
			continue
		}
		pos, err := n.GTID.Union(n.Received)
		if err != nil {
			skip(err.Error())
			continue
		}
		r := ranked{n: n, order: i, pos: pos}
		why := ""
		switch {
		case n.Promotion == PromoteNever:
			why = "promotion=never"
		case n.Maintenance:
			why = "in maintenance"
		case n.SQLDelay > 0:
			why = fmt.Sprintf("delayed replica (MASTER_DELAY=%d)", n.SQLDelay)
		case n.LastSQLError != "":
			why = "SQL thread error: " + n.LastSQLError
		}
		if why != "" {
			skip(why)
			witnesses = append(witnesses, r)
			continue
		}
		eligible = append(eligible, r)
	}
	return eligible, witnesses, skipped
}

func coversWitnesses(w ranked, witnesses []ranked) error {
	var lacks []string
	for _, o := range witnesses {
		if !w.pos.Contains(o.pos) {
			lacks = append(lacks, fmt.Sprintf("%s has %s", o.n.Name, gtid.Errant(o.pos, w.pos)))
		}
	}
	if len(lacks) > 0 {
		return fmt.Errorf("%w: %s at %s lacks what %s", ErrWouldLoseTransactions, w.n.Name, w.pos, strings.Join(lacks, "; "))
	}
	return nil
}

func rank(p Promotion) int {
	switch p {
	case PromotePrefer:
		return 0
	case PromoteNever:
		return 2
	}
	return 1
}

// lagKey orders unknown lag after any known lag.
func lagKey(l float64) float64 {
	if l < 0 {
		return 1e300
	}
	return l
}

// better orders candidates of equal position. In a switchover fallback the
// positions may differ; there, the one that contains the other goes first.
func better(a, b ranked) bool {
	if c, ok := gtid.Compare(a.pos, b.pos); ok && c != 0 {
		return c > 0
	}
	if ra, rb := rank(a.n.Promotion), rank(b.n.Promotion); ra != rb {
		return ra < rb
	}
	if la, lb := lagKey(a.n.LagSeconds), lagKey(b.n.LagSeconds); la != lb {
		return la < lb
	}
	return a.order < b.order
}

func winReason(w ranked, top []ranked, eligible int) string {
	pos := w.pos.String()
	if pos == "" {
		pos = "(empty)"
	}
	r := fmt.Sprintf("%s: most advanced position %s among %d eligible", w.n.Name, pos, eligible)
	if len(top) > 1 {
		second := top[1]
		switch {
		case rank(w.n.Promotion) != rank(second.n.Promotion):
			r += "; tie broken by promotion=prefer"
		case lagKey(w.n.LagSeconds) != lagKey(second.n.LagSeconds):
			r += fmt.Sprintf("; tie broken by lower lag (%gs vs %s)", w.n.LagSeconds, lagText(second.n.LagSeconds))
		default:
			r += "; tie broken by configuration order"
		}
	}
	return r
}

func lagText(l float64) string {
	if l < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%gs", l)
}

func skippedText(s []Skipped) string {
	if len(s) == 0 {
		return ""
	}
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.Name + " (" + x.Reason + ")"
	}
	return "; skipped " + strings.Join(parts, ", ")
}

func positionsText(rs []ranked) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.n.Name + " at " + r.pos.String()
	}
	return strings.Join(parts, ", ")
}
