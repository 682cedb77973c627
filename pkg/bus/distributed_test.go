package bus

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// openReal opens the distributed bus on the brokers that `make test`
// starts (KAFKA_BROKERS, REDIS_ADDR); without them the test is skipped.
func openReal(t *testing.T) *Bus {
	t.Helper()
	if os.Getenv("KAFKA_BROKERS") == "" || os.Getenv("REDIS_ADDR") == "" {
		t.Skip("KAFKA_BROKERS and REDIS_ADDR not set: no real brokers (make test starts them)")
	}
	cfg, err := LoadConfig(map[string]string{
		"BUS":                   TransportDistributed,
		"KAFKA_BROKERS":         os.Getenv("KAFKA_BROKERS"),
		"REDIS_ADDR":            os.Getenv("REDIS_ADDR"),
		"CONSUMER_GROUP_PREFIX": fmt.Sprintf("bustest-%d", time.Now().UnixNano()),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Messages with one key keep their order through Kafka, and a consumer
// group gets each once.
func TestKafkaKeepsOrderPerKey(t *testing.T) {
	b := openReal(t)
	run := NewID()
	got := make(chan string, 100)
	r, err := b.NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Domain.Subscriber("order")
	if err != nil {
		t.Fatal(err)
	}
	r.AddConsumerHandler("order", "realtime.video", sub, func(m *message.Message) error {
		if p := string(m.Payload); strings.HasPrefix(p, run) {
			got <- strings.TrimPrefix(p, run+":")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-r.Running()
	for i := range 50 {
		key := "video-" + run
		if err := b.Domain.Publisher().Publish("realtime.video", NewMessage(NewID(), key, []byte(fmt.Sprintf("%s:%d", run, i)))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		select {
		case v := <-got:
			if v != fmt.Sprint(i) {
				t.Fatalf("message %d arrived as %s", i, v)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("message %d not delivered", i)
		}
	}
}

// Every fan-out subscriber gets every message, including one published
// right after Subscribe returned.
func TestRedisFanoutReachesEverySubscriber(t *testing.T) {
	b := openReal(t)
	topic := "realtime.fanout.test." + NewID()
	var chans []<-chan *message.Message
	for range 2 {
		sub, _ := b.Fanout.Subscriber("edge")
		ch, err := sub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Close() })
		chans = append(chans, ch)
	}
	if err := b.Fanout.Publisher().Publish(topic, NewMessage("m1", "", []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans {
		select {
		case m := <-ch:
			m.Ack()
			if string(m.Payload) != "hello" {
				t.Fatalf("subscriber %d got %q", i, m.Payload)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscriber %d got nothing", i)
		}
	}
}
