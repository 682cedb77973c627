package socketio

// room is the local membership of one room. Most rooms have one member (a
// user's own room holds that user's one socket), so a single member is
// kept in the room itself and a set is made only for a second one: a map
// costs ~150 bytes even with one entry, which at 19,000 connections was
// the largest per-connection cost of joining rooms.
type room struct {
	name string               // the one copy of the name that the members' room lists share
	one  *Socket              // the member while there is exactly one
	many map[*Socket]struct{} // the members while there are more
}

func (r *room) len() int {
	if r.many != nil {
		return len(r.many)
	}
	if r.one != nil {
		return 1
	}
	return 0
}

func (r *room) has(s *Socket) bool {
	if r.many != nil {
		_, ok := r.many[s]
		return ok
	}
	return r.one == s && s != nil
}

// add adds s; it reports false if s was a member already.
func (r *room) add(s *Socket) bool {
	switch {
	case r.many != nil:
		if _, ok := r.many[s]; ok {
			return false
		}
		r.many[s] = struct{}{}
	case r.one == nil:
		r.one = s
	case r.one == s:
		return false
	default:
		r.many = map[*Socket]struct{}{r.one: {}, s: {}}
		r.one = nil
	}
	return true
}

// remove removes s; a set down to one member goes back to the single
// field, so a room that shrinks also gives its memory back.
func (r *room) remove(s *Socket) {
	if r.many == nil {
		if r.one == s {
			r.one = nil
		}
		return
	}
	delete(r.many, s)
	if len(r.many) == 1 {
		for last := range r.many {
			r.one = last
		}
		r.many = nil
	}
}

// appendTo appends the members to out.
func (r *room) appendTo(out []*Socket) []*Socket {
	if r.many == nil {
		if r.one != nil {
			out = append(out, r.one)
		}
		return out
	}
	for s := range r.many {
		out = append(out, s)
	}
	return out
}
