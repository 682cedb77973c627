package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// DomainTopics are the Kafka topics the service uses; Open creates them
// with the configured partition count.
var DomainTopics = []string{
	"realtime.sessions", "realtime.video", "realtime.chat", "realtime.user",
	"platform.events", TopicPoison,
}

func openDistributed(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	wl := watermill.NewSlogLogger(logger)
	k, err := newKafka(ctx, cfg, wl)
	if err != nil {
		return nil, err
	}
	r, err := newRedisFanout(ctx, cfg, wl)
	if err != nil {
		_ = k.Close()
		return nil, err
	}
	return &Bus{Domain: k, Fanout: r, Logger: wl}, nil
}

// kafkaVersion is the protocol version sarama starts from; it negotiates
// down to what the broker supports. Old defaults send request versions
// that Kafka 4 removed.
var kafkaVersion = sarama.V4_0_0_0

// kafkaTransport is the domain-event role: partition keys from the
// message metadata, one consumer group per service and handler.
type kafkaTransport struct {
	cfg       Config
	logger    watermill.LoggerAdapter
	marshaler kafka.MarshalerUnmarshaler
	pub       *kafka.Publisher
}

func newKafka(ctx context.Context, cfg Config, wl watermill.LoggerAdapter) (*kafkaTransport, error) {
	if err := createTopics(ctx, cfg); err != nil {
		return nil, err
	}
	marshaler := kafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
		return msg.Metadata.Get(KeyMetadata), nil
	})
	pc := kafka.DefaultSaramaSyncPublisherConfig()
	pc.Version = kafkaVersion
	// Publish returns once the broker acknowledged (a chat message is acked
	// to its sender only then); with the broker down it fails within a few
	// seconds rather than hanging.
	pc.Producer.RequiredAcks = sarama.WaitForAll
	pc.Producer.Retry.Max = 2
	pc.Producer.Retry.Backoff = 100 * time.Millisecond
	pc.Producer.Timeout = 3 * time.Second
	pc.Metadata.Retry.Backoff = 50 * time.Millisecond // the library's 2 s delays a first publish
	pc.Net.DialTimeout = 2 * time.Second
	pc.Net.ReadTimeout = 5 * time.Second
	pc.Net.WriteTimeout = 5 * time.Second
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{
		Brokers:               cfg.KafkaBrokers,
		Marshaler:             marshaler,
		OverwriteSaramaConfig: pc,
	}, wl)
	if err != nil {
		return nil, fmt.Errorf("kafka publisher: %w", err)
	}
	return &kafkaTransport{cfg: cfg, logger: wl, marshaler: marshaler, pub: pub}, nil
}

// createTopics creates the domain topics that do not exist yet.
func createTopics(ctx context.Context, cfg Config) error {
	sc := sarama.NewConfig()
	sc.Version = kafkaVersion
	sc.Net.DialTimeout = 5 * time.Second
	var admin sarama.ClusterAdmin
	var err error
	for {
		admin, err = sarama.NewClusterAdmin(cfg.KafkaBrokers, sc)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka %v: %w", cfg.KafkaBrokers, errors.Join(err, ctx.Err()))
		case <-time.After(500 * time.Millisecond):
		}
	}
	defer admin.Close()
	for _, t := range DomainTopics {
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: cfg.KafkaPartitions, ReplicationFactor: 1}, false)
		var te *sarama.TopicError
		if err != nil && !(errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

func (k *kafkaTransport) Publisher() message.Publisher { return k.pub }

// Subscriber returns a member of consumer group "<prefix>.<group>":
// instances of a service share partitions, and each partition is handled
// in order, the next message after the previous one was acknowledged.
func (k *kafkaTransport) Subscriber(group string) (message.Subscriber, error) {
	return kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               k.cfg.KafkaBrokers,
		Unmarshaler:           k.marshaler,
		OverwriteSaramaConfig: subscriberSaramaConfig(),
		ConsumerGroup:         k.cfg.GroupPrefix + "." + group,
		NackResendSleep:       100 * time.Millisecond,
		ReconnectRetrySleep:   time.Second,
	}, k.logger)
}

// subscriberSaramaConfig is the consumer configuration of every subscriber.
func subscriberSaramaConfig() *sarama.Config {
	sc := kafka.DefaultSaramaSubscriberConfig()
	sc.Version = kafkaVersion
	// A new group starts at the oldest record, so nothing published before
	// a service first came up is lost; later it resumes from its offsets.
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Net.DialTimeout = 2 * time.Second
	sc.Metadata.Retry.Backoff = 50 * time.Millisecond
	// A dead instance's partitions move to the others after the session
	// timeout: 6 s (the broker's minimum) instead of sarama's 10 s.
	sc.Consumer.Group.Session.Timeout = 6 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = 2 * time.Second
	return sc
}

func (k *kafkaTransport) Close() error { return k.pub.Close() }

// redisFanout is the fan-out role on Redis Streams: every subscriber reads
// the whole stream (no consumer group), from the stream's last entry at
// the time it subscribed, so nothing published after Subscribe returns is
// missed.
type redisFanout struct {
	cfg    Config
	logger watermill.LoggerAdapter
	pub    *streamPublisher
}

func newRedisClient(cfg Config) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         cfg.RedisAddr,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  3 * time.Second,
		WriteTimeout: 3 * time.Second,
	})
}

func newRedisFanout(ctx context.Context, cfg Config, wl watermill.LoggerAdapter) (*redisFanout, error) {
	// The publisher closes the client it is given: it gets its own.
	client := newRedisClient(cfg)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis %s: %w", cfg.RedisAddr, err)
	}
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client:        client,
		DefaultMaxlen: cfg.FanoutMaxLen,
	}, wl)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis publisher: %w", err)
	}
	return &redisFanout{cfg: cfg, logger: wl, pub: &streamPublisher{
		shared: pub,
		client: client,
		maxLen: cfg.FanoutMaxLen,
		ttl:    cfg.EdgeStreamTTL,
	}}, nil
}

func (r *redisFanout) Publisher() message.Publisher { return r.pub }

// Subscriber ignores the group: in fan-out every edge reads everything.
func (r *redisFanout) Subscriber(string) (message.Subscriber, error) {
	return &fanoutSubscriber{r: r}, nil
}

func (r *redisFanout) Close() error { return r.pub.Close() }

// fanoutSubscriber reads a stream from the entry after the newest one at
// Subscribe, in batches: every edge reads every fan-out entry, and
// watermill-redisstream's fan-out mode asks Redis for one entry per XREAD,
// a round trip per message per edge (at 100,000 joins over 6 edges, 2.6
// million of them). One XREAD here returns up to fanoutBatch entries; each
// is handed on and acknowledged in turn, so order and the handler's
// one-message-at-a-time contract are as before.
type fanoutSubscriber struct {
	r       *redisFanout
	mu      sync.Mutex
	closing chan struct{}
	closed  bool
	wg      sync.WaitGroup
}

// fanoutBatch is how many entries one XREAD returns at most.
const fanoutBatch = 512

func (f *fanoutSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errors.New("fan-out subscriber closed")
	}
	if f.closing == nil {
		f.closing = make(chan struct{})
	}
	client := newRedisClient(f.r.cfg)
	start, err := lastStreamID(ctx, client, topic)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("fan-out start of %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(out)
		defer client.Close()
		f.read(ctx, client, topic, start, out)
	}()
	return out, nil
}

// read hands every entry after start to out until ctx ends or the
// subscriber is closed. A Redis error (a restart) is logged and the read
// retried from the last entry handed on: the subscription never ends on
// its own.
func (f *fanoutSubscriber) read(ctx context.Context, client *redis.Client, topic, last string, out chan<- *message.Message) {
	var unmarshal redisstream.DefaultMarshallerUnmarshaller
	fields := watermill.LogFields{"topic": topic}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.closing:
			return
		default:
		}
		xs, err := client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{topic, last},
			Count:   fanoutBatch,
			Block:   time.Second, // so that Close is noticed within a second
		}).Result()
		if errors.Is(err, redis.Nil) || (err == nil && (len(xs) == 0 || len(xs[0].Messages) == 0)) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.r.logger.Error("fan-out read failed, retrying", err, fields)
			select {
			case <-ctx.Done():
				return
			case <-f.closing:
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		for _, entry := range xs[0].Messages {
			msg, err := unmarshal.Unmarshal(entry.Values)
			if err != nil {
				f.r.logger.Error("dropping undecodable fan-out entry", err, fields.Add(watermill.LogFields{"id": entry.ID}))
				last = entry.ID
				continue
			}
			if !f.deliver(ctx, msg, out) {
				return
			}
			last = entry.ID
		}
	}
}

// deliver hands msg to out and waits for its ack; a nack hands a copy
// again (a message is acked or nacked once). It reports false when ctx
// ended or the subscriber closed.
func (f *fanoutSubscriber) deliver(ctx context.Context, msg *message.Message, out chan<- *message.Message) bool {
	for m := msg; ; m = msg.Copy() {
		m.SetContext(ctx)
		select {
		case out <- m:
		case <-ctx.Done():
			return false
		case <-f.closing:
			return false
		}
		select {
		case <-m.Acked():
			return true
		case <-m.Nacked():
		case <-ctx.Done():
			return false
		case <-f.closing:
			return false
		}
	}
}

// lastStreamID is the id of the newest entry, or "0" for an empty stream.
func lastStreamID(ctx context.Context, c *redis.Client, stream string) (string, error) {
	msgs, err := c.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", err
	}
	if len(msgs) == 0 {
		return "0", nil
	}
	return msgs[0].ID, nil
}

func (f *fanoutSubscriber) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		if f.closing != nil {
			close(f.closing)
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}
