package hosts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A delayQueue holds every packet that an iptables NFQUEUE rule hands it for a fixed
// time, then lets it go on: a link's one-way latency, packet by packet, as netem would
// add it (this kernel has no netem). It speaks the kernel's nfnetlink_queue protocol
// over a netlink socket of the host's namespace; no Go library for it is available
// here, and the part needed is small: bind a queue, read packet ids, send verdicts.
type delayQueue struct {
	fd      int
	num     uint16
	delay   time.Duration
	closed  atomic.Bool
	pending chan queued
	wg      sync.WaitGroup // the reader and the releaser
	err     atomic.Value   // the first error either met, for close
}

type queued struct {
	id  uint32
	due time.Time
}

// nfnetlink_queue's constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue        = 3
	nfqnlMsgPacket         = 0
	nfqnlMsgConfig         = 2
	nfqnlMsgVerdictBatch   = 3
	nfqaPacketHdr          = 1
	nfqaVerdictHdr         = 2
	nfqaCfgCmd             = 1
	nfqaCfgParams          = 2
	nfqaCfgQueueMaxlen     = 3
	nfqaCfgMask            = 4
	nfqaCfgFlags           = 5
	nfqnlCfgCmdBind        = 1
	nfqnlCopyMeta          = 1
	nfqaCfgFFailOpen       = 1
	nfAccept               = 1
	netlinkNoENOBUFS       = 5
	queueMaxLen            = 1 << 16
	nlmsgHeaderLen         = 16
	nfgenHeaderLen         = 4
	receiveBufferBytes     = 8 << 20
	receivePollInterval    = 100 * time.Millisecond
	pendingPacketsCapacity = 1 << 16
)

// newDelayQueue binds queue num in the host's namespace and starts delaying what it
// receives.
func (h *Host) newDelayQueue(num uint16, delay time.Duration) (*delayQueue, error) {
	fd, err := inNamespace(h.ns, func() (int, error) {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	})
	if err != nil {
		return nil, fmt.Errorf("netfilter socket on %s: %w", h.Name, err)
	}
	q := &delayQueue{fd: fd, num: num, delay: delay, pending: make(chan queued, pendingPacketsCapacity)}
	if err := q.configure(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("queue %d on %s: %w", num, h.Name, err)
	}
	q.wg.Add(2)
	go q.read()
	go q.release()
	return q, nil
}

func (q *delayQueue) configure() error {
	if err := unix.Bind(q.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// Packets arrive faster than verdicts leave while the queue fills to a round trip's
	// worth: room for that, and no ENOBUFS to stop the reader if it ever overflows.
	if err := unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBufferBytes); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(q.fd, unix.SOL_NETLINK, netlinkNoENOBUFS, 1); err != nil {
		return err
	}
	tv := unix.NsecToTimeval(receivePollInterval.Nanoseconds())
	if err := unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	var cmd [4]byte
	cmd[0] = nfqnlCfgCmdBind
	binary.BigEndian.PutUint16(cmd[2:], unix.AF_INET)
	if err := q.request(nfqnlMsgConfig, true, attr(nfqaCfgCmd, cmd[:])); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	// Only the packet's id is needed: copy no payload. A full queue lets packets through
	// undelayed rather than dropping them.
	params := make([]byte, 5)
	params[4] = nfqnlCopyMeta
	return q.request(nfqnlMsgConfig, true,
		attr(nfqaCfgParams, params), attr(nfqaCfgQueueMaxlen, be32(queueMaxLen)),
		attr(nfqaCfgMask, be32(nfqaCfgFFailOpen)), attr(nfqaCfgFlags, be32(nfqaCfgFFailOpen)))
}

// request sends one nfnetlink_queue message for the queue and, with ack, waits for the
// kernel's answer.
func (q *delayQueue) request(msgType uint16, ack bool, attrs ...[]byte) error {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	msg := make([]byte, nlmsgHeaderLen+nfgenHeaderLen)
	binary.NativeEndian.PutUint16(msg[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(msg[6:], flags)
	msg[16] = unix.AF_UNSPEC // nfgenmsg: family, version 0, queue number (big endian)
	binary.BigEndian.PutUint16(msg[18:], q.num)
	for _, a := range attrs {
		msg = append(msg, a...)
	}
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	if err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	if !ack {
		return nil
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if err != nil {
			return err
		}
		for m := buf[:n]; len(m) >= nlmsgHeaderLen; {
			size := int(binary.NativeEndian.Uint32(m))
			if size < nlmsgHeaderLen || size > len(m) {
				return errors.New("short netlink message")
			}
			if binary.NativeEndian.Uint16(m[4:]) == unix.NLMSG_ERROR && size >= nlmsgHeaderLen+4 {
				if errno := int32(binary.NativeEndian.Uint32(m[nlmsgHeaderLen:])); errno != 0 {
					return unix.Errno(-errno)
				}
				return nil
			}
			m = m[align(size):]
		}
	}
}

// read takes each packet's id off the socket and queues it for release.
func (q *delayQueue) read() {
	defer q.wg.Done()
	defer close(q.pending)
	buf := make([]byte, 1<<16)
	for !q.closed.Load() {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR || err == unix.ENOBUFS {
			continue
		}
		if err != nil {
			q.err.CompareAndSwap(nil, err)
			return
		}
		now := time.Now()
		for m := buf[:n]; len(m) >= nlmsgHeaderLen; {
			size := int(binary.NativeEndian.Uint32(m))
			if size < nlmsgHeaderLen || size > len(m) {
				break
			}
			if binary.NativeEndian.Uint16(m[4:]) == nfnlSubsysQueue<<8|nfqnlMsgPacket {
				if id, ok := packetID(m[nlmsgHeaderLen+nfgenHeaderLen : size]); ok {
					q.pending <- queued{id, now.Add(q.delay)}
				}
			}
			m = m[align(size):]
		}
	}
}

// packetID finds NFQA_PACKET_HDR among a packet message's attributes.
func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		size := int(binary.NativeEndian.Uint16(attrs))
		if size < 4 || size > len(attrs) {
			return 0, false
		}
		if binary.NativeEndian.Uint16(attrs[2:])&0x7fff == nfqaPacketHdr && size >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), true
		}
		attrs = attrs[min(align(size), len(attrs)):]
	}
	return 0, false
}

// release lets packets go when they are due. Every packet waits the same time, so they
// fall due in the order they came, and one batch verdict accepts all ids up to the
// newest due.
func (q *delayQueue) release() {
	defer q.wg.Done()
	for p := range q.pending {
		if d := time.Until(p.due); d > 0 {
			time.Sleep(d)
		}
		last := p.id
	more:
		for {
			select {
			case next, ok := <-q.pending:
				if !ok {
					break more
				}
				if d := time.Until(next.due); d > 0 {
					q.accept(last)
					time.Sleep(d)
				}
				last = next.id
			default:
				break more
			}
		}
		q.accept(last)
	}
}

func (q *delayQueue) accept(upTo uint32) {
	var v [8]byte
	binary.BigEndian.PutUint32(v[0:], nfAccept)
	binary.BigEndian.PutUint32(v[4:], upTo)
	if err := q.request(nfqnlMsgVerdictBatch, false, attr(nfqaVerdictHdr, v[:])); err != nil {
		q.err.CompareAndSwap(nil, err)
	}
}

// close stops the queue; packets still held are dropped (the kernel forgets them when
// the socket closes), as a link taken away drops them.
func (q *delayQueue) close() error {
	q.closed.Store(true)
	q.wg.Wait()
	unix.Close(q.fd)
	if err, ok := q.err.Load().(error); ok {
		return err
	}
	return nil
}

// attr is a netlink attribute, padded to four bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, align(4+len(data)))
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func align(n int) int { return (n + 3) &^ 3 }
