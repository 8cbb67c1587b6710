// Package collective moves float32 buffers between the processes of a
// training job: a rendezvous through a TCP key-value store served by rank 0
// (as torchrun's) or through etcd, a full mesh of connections carrying
// length-framed messages with deadlines, and the collectives built on
// them: broadcast, all-gather, reduce-scatter, barrier and all-reduce.
//
// Connections are TCP; with Config.Transport "auto", ranks that find
// (through the rendezvous) that they run on the same machine connect over
// an abstract Unix socket instead, which skips the TCP/IP stack: about
// twice the bandwidth of loopback TCP here, as NCCL and MPI use shared
// memory within a node.
//
// All-reduce has two algorithms. Ring (Patarasukul and Yuan; as Baidu's
// ring all-reduce and NCCL) is a reduce-scatter followed by an all-gather
// around the ring; each of the 2(N−1) stages moves 1/N of the buffer, split
// into chunks that are sent while the previous chunk is being reduced, so
// every link carries 2(N−1)/N of the buffer: bandwidth-optimal.
// Recursive doubling exchanges whole buffers with partners at distance
// 1, 2, 4, ... in log₂N rounds (with a fold-in step when N is not a power of
// two): latency-optimal for small messages. AllReduce picks between them by
// size.
//
// The package knows nothing of models or autograd; it moves buffers.
package collective
