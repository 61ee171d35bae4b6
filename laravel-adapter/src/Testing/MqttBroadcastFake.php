<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Testing;

use Illuminate\Support\Collection;
use Mqtt\Client;
use MqttBroadcast\Laravel\MqttBroadcast;
use PHPUnit\Framework\Assert as PHPUnit;

/**
 * What MqttBroadcast::fake() puts behind the facade, in the manner of
 * Bus::fake() and Event::fake(): publishes are recorded, nothing reaches a
 * broker, and the mqtt_broadcast extension need not be loaded. It extends the
 * real service so that everything resolving it from the container (the
 * helpers, MqttMessageJob::handle()) records too.
 *
 * A publish is recorded the moment it is handed over, queued or not: the
 * message MqttBroadcast would have sent, as the broker would get it (strings
 * as they are, anything else JSON-encoded), with the connection's qos and
 * retain applied, and the topic without the connection's prefix.
 */
class MqttBroadcastFake extends MqttBroadcast
{
    /** @var list<array{topic: string, payload: string, qos: int, retain: bool, connection: string, properties: array<string, mixed>|null}> */
    private array $published = [];

    public function publish(
        string $topic,
        mixed $message,
        string $broker = 'default',
        ?int $qos = null,
        ?bool $retain = null,
        ?bool $queued = null,
        ?array $properties = null,
    ): void {
        $this->record($topic, $message, $broker, $qos, $retain, $properties);
    }

    public function publishSync(
        string $topic,
        mixed $message,
        string $broker = 'default',
        ?int $qos = null,
        ?bool $retain = null,
        ?float $timeout = null,
        ?array $properties = null,
    ): void {
        $this->record($topic, $message, $broker, $qos, $retain, $properties);
    }

    /** There is no connection behind the fake: a test that needs one talks to a real broker. */
    public function connection(string $broker = 'default'): Client
    {
        throw new \LogicException('MqttBroadcast::fake() has no connections: connection() needs the real MqttBroadcast and a broker.');
    }

    /**
     * @param mixed $payload null: any; a value: the same bytes once encoded as publish() encodes it;
     *                       a closure: fn (string $topic, string $payload, int $qos, bool $retain, string $connection): bool
     */
    public function assertPublished(string $topic, mixed $payload = null): void
    {
        PHPUnit::assertTrue(
            $this->published($topic, $payload)->isNotEmpty(),
            sprintf('No message%s was published on [%s].%s', $payload === null ? '' : ' matching the payload', $topic, $this->summary())
        );
    }

    public function assertPublishedTimes(string $topic, int $times = 1, mixed $payload = null): void
    {
        $count = $this->published($topic, $payload)->count();
        PHPUnit::assertSame($times, $count, sprintf('A message on [%s] was published %d times instead of %d.%s', $topic, $count, $times, $this->summary()));
    }

    public function assertNotPublished(string $topic, mixed $payload = null): void
    {
        PHPUnit::assertTrue(
            $this->published($topic, $payload)->isEmpty(),
            sprintf('A message%s was published on [%s].%s', $payload === null ? '' : ' matching the payload', $topic, $this->summary())
        );
    }

    public function assertNothingPublished(): void
    {
        PHPUnit::assertSame([], $this->published, 'Messages were published.' . $this->summary());
    }

    /** Like assertPublished(), on the named connection only. */
    public function assertPublishedOn(string $connection, string $topic, mixed $payload = null): void
    {
        PHPUnit::assertTrue(
            $this->published($topic, $payload)->contains(static fn (array $message) => $message['connection'] === $connection),
            sprintf('No message%s was published on [%s] through connection [%s].%s', $payload === null ? '' : ' matching the payload', $topic, $connection, $this->summary())
        );
    }

    /**
     * The messages published on $topic that match $payload (see assertPublished()).
     *
     * @return Collection<int, array{topic: string, payload: string, qos: int, retain: bool, connection: string, properties: array<string, mixed>|null}>
     */
    public function published(string $topic, mixed $payload = null): Collection
    {
        return (new Collection($this->published))->filter(static function (array $message) use ($topic, $payload): bool {
            if ($message['topic'] !== $topic) {
                return false;
            }
            if ($payload instanceof \Closure) {
                return (bool) $payload($message['topic'], $message['payload'], $message['qos'], $message['retain'], $message['connection']);
            }
            return $payload === null || MqttBroadcast::payload($payload) === $message['payload'];
        })->values();
    }

    /** @param array<string, mixed>|null $properties */
    private function record(string $topic, mixed $message, string $broker, ?int $qos, ?bool $retain, ?array $properties): void
    {
        // As strict as the real service about the connection: a typo fails the test too.
        $connection = $this->config->connection($broker);
        $this->published[] = [
            'topic' => $topic,
            'payload' => MqttBroadcast::payload($message),
            'qos' => $qos ?? $connection->qos,
            'retain' => $retain ?? $connection->retain,
            'connection' => $broker,
            'properties' => $properties,
        ];
    }

    private function summary(): string
    {
        if ($this->published === []) {
            return ' Nothing was published.';
        }
        $lines = array_map(
            static fn (array $m) => sprintf('  [%s] on %s (qos %d%s): %s', $m['topic'], $m['connection'], $m['qos'], $m['retain'] ? ', retained' : '', strlen($m['payload']) > 80 ? substr($m['payload'], 0, 77) . '...' : $m['payload']),
            $this->published
        );
        return "\nPublished:\n" . implode("\n", $lines);
    }
}
