//go:build linux

package engineio

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// wakeableEpoll is an epoll set holding an eventfd, so that another
// goroutine can end a wait on it (poke): the pollers' and the write
// waiter's.
type wakeableEpoll struct {
	epfd int
	wake int // the eventfd, registered with wakeEv
}

func newWakeableEpoll(wakeEv unix.EpollEvent) (wakeableEpoll, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return wakeableEpoll{}, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return wakeableEpoll{}, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &wakeEv); err != nil {
		_ = unix.Close(wake)
		_ = unix.Close(epfd)
		return wakeableEpoll{}, err
	}
	return wakeableEpoll{epfd: epfd, wake: wake}, nil
}

// poke makes the eventfd readable, which ends a wait on the set.
func (e wakeableEpoll) poke() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(e.wake, one[:])
}

func (e wakeableEpoll) close() {
	_ = unix.Close(e.wake)
	_ = unix.Close(e.epfd)
}
