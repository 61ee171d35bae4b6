<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Contracts\Queue\Queue as QueueContract;
use Illuminate\Queue\Queue;
use Illuminate\Support\Str;
use Mqtt\Client;
use Mqtt\Subscriber;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Connections;
use MqttBroadcast\Laravel\Events\MqttMessageRejected;
use MqttBroadcast\Laravel\Exceptions\ExtensionMissingException;

/**
 * Laravel's queue over MQTT. Pushing publishes the job at QoS 1 and returns
 * once the broker acknowledged it; workers take jobs through a shared
 * subscription from persistent sessions, so the broker keeps jobs for
 * workers that are away. README.md, "MQTT as a Laravel queue", has the design.
 */
class MqttQueue extends Queue implements QueueContract
{
    /** Messages that are not jobs skipped within one pop() before it returns. */
    private const REJECTS_PER_POP = 100;

    private readonly Topics $topics;
    private ?Consumers $consumers = null;
    /** @var array<string, int> queues known to have a consumer on the broker: the publishing connection's reconnect count then */
    private array $declared = [];
    /** @var list<Subscriber> subscribers of declared anchors, never dropped (dropping one would unsubscribe) */
    private static array $anchors = [];

    public function __construct(
        private readonly Connections $connections,
        private readonly MqttBroadcastConfig $broadcast,
        private readonly MqttQueueConfig $config,
        private readonly string $slotDirectory,
    ) {
        $this->topics = new Topics($config->topicPrefix, $config->group);
    }

    /**
     * Not known: the jobs wait in the sessions of the workers, which no broker
     * counts per subscription (README: "What size() can know"). 0.
     */
    public function size($queue = null)
    {
        return 0;
    }

    public function pendingSize($queue = null)
    {
        return 0;
    }

    public function delayedSize($queue = null)
    {
        return 0;
    }

    public function reservedSize($queue = null)
    {
        return 0;
    }

    public function creationTimeOfOldestPendingJob($queue = null)
    {
        return null;
    }

    public function push($job, $data = '', $queue = null)
    {
        return $this->enqueueUsing(
            $job,
            $this->createPayload($job, $this->getQueue($queue), $data),
            $queue,
            null,
            fn ($payload, $queue) => $this->pushRaw($payload, $queue)
        );
    }

    public function pushRaw($payload, $queue = null, array $options = [])
    {
        $queue = $this->getQueue($queue);
        $this->publishJob($this->topics->ready($queue), $payload, $queue);
        return json_decode($payload, true)['id'] ?? null;
    }

    public function later($delay, $job, $data = '', $queue = null)
    {
        return $this->enqueueUsing(
            $job,
            $this->createPayload($job, $this->getQueue($queue), $data),
            $queue,
            $delay,
            fn ($payload, $queue, $delay) => $this->laterRaw($delay, $payload, $queue)
        );
    }

    /** @param \DateTimeInterface|\DateInterval|int $delay */
    public function laterRaw($delay, string $payload, ?string $queue = null): ?string
    {
        $seconds = $this->secondsUntil($delay);
        if ($seconds <= 0) {
            return $this->pushRaw($payload, $queue);
        }
        $queue = $this->getQueue($queue);
        $job = json_decode($payload, true);
        if ($this->config->delay === MqttQueueConfig::DELAY_BROKER) {
            // EMQX, rmqtt: the broker holds it and publishes it to the topic when due.
            $this->declare($queue, $this->publisher()->status()['reconnects']);
            $this->unprefixedPublisher()->publishSync(sprintf('$delayed/%d/%s%s', $seconds, $this->prefix(), $this->topics->ready($queue)), $payload, 1);
        } else {
            $job['available_at'] = microtime(true) + $seconds;
            $this->publishJob($this->topics->delayed($queue), json_encode($job, JSON_THROW_ON_ERROR), $queue);
        }
        return $job['id'] ?? null;
    }

    /**
     * A released job goes back as a new message with the attempts so far; the
     * one it came in is acknowledged after that.
     *
     * @param array<string, mixed> $decoded
     */
    public function releaseRaw(array $decoded, int $attempts, int $delay, string $queue): void
    {
        $decoded['id'] = $this->getRandomId();
        $decoded['attempts'] = $attempts;
        unset($decoded['available_at']);
        $this->laterRaw($delay, json_encode($decoded, JSON_THROW_ON_ERROR), $queue);
    }

    public function pop($queue = null)
    {
        $queue = $this->getQueue($queue);
        $consumers = $this->consumers ??= new Consumers(
            $this->config,
            $this->topics,
            $this->options(),
            $this->slotDirectory,
            fn (string $topic, string $payload, string $reason) => $this->reject($topic, $payload, $reason),
            fn (string $topic, string $payload, string $queue) => $this->publishJob($topic, $payload, $queue),
        );
        for ($i = 0; $i < self::REJECTS_PER_POP; $i++) {
            $taken = $consumers->pop($queue, $this->config->blockFor);
            if ($taken === null) {
                return null;
            }
            [$consumer, $message] = $taken;
            $decoded = json_decode($message->payload, true);
            if (!is_array($decoded) || !is_string($decoded['job'] ?? null) || $decoded['job'] === '') {
                $this->reject($message->topic, $message->payload, 'not a Laravel job payload: ' . (is_array($decoded) ? 'no "job" key' : 'not a JSON object'));
                $consumer->finish();
                $consumer->acknowledge();
                continue;
            }
            // Another producer's job without our keys: its content names it.
            $decoded['id'] = Consumer::idOf($message);
            $previous = is_int($decoded['attempts'] ?? null) ? $decoded['attempts'] : 0;
            $attempts = $consumer->reserve($decoded['id'], $previous);
            return new MqttJob($this->container, $this, $consumer, $message->payload, $decoded, $attempts, $this->connectionName, $queue);
        }
        return null;
    }

    public function getQueue(?string $queue): string
    {
        $queue = $queue ?: $this->config->queue;
        if (!MqttQueueConfig::isQueueName($queue)) {
            throw new \InvalidArgumentException(sprintf(
                '%s: queue name "%s" cannot be an MQTT topic: it must not be empty, contain "+", "#" or NUL, or have a level starting with "~"',
                $this->config->path,
                $queue
            ));
        }
        return $queue;
    }

    /**
     * Laravel's payload, with an id and an attempt count of this driver's, and
     * Horizon-style tags: what the job's tags() returns, else the class:key of
     * the Eloquent models it holds, for tools that list jobs by tag.
     *
     * @return array<string, mixed>
     */
    protected function createPayloadArray($job, $queue, $data = '')
    {
        return array_merge(parent::createPayloadArray($job, $queue, $data), [
            'id' => $this->getRandomId(),
            'attempts' => 0,
            'tags' => self::tags($job),
        ]);
    }

    /** @return list<string> */
    private static function tags(mixed $job): array
    {
        if (!is_object($job)) {
            return [];
        }
        if (method_exists($job, 'tags')) {
            return array_values(array_map('strval', (array) $job->tags()));
        }
        $tags = [];
        foreach ((new \ReflectionObject($job))->getProperties() as $property) {
            $property->setAccessible(true);
            $value = $property->isInitialized($job) ? $property->getValue($job) : null;
            if ($value instanceof \Illuminate\Database\Eloquent\Model) {
                $tags[] = get_class($value) . ':' . $value->getKey();
            }
        }
        return $tags;
    }

    protected function getRandomId(): string
    {
        return Str::random(32);
    }

    /**
     * Publishes a job at QoS 1 and returns once the broker has it, to a
     * broker that keeps it for a worker. A broker that restarted meanwhile
     * (the connection reconnected) may have come back without the workers'
     * shared subscriptions until they subscribe again (Mosquitto 2.0): the
     * queue is declared again, and a job published across the reconnect is
     * published once more (a duplicate rather than a loss).
     */
    public function publishJob(string $topic, string $payload, string $queue): void
    {
        $client = $this->publisher();
        $reconnects = $client->status()['reconnects'];
        $this->declare($queue, $reconnects);
        $client->publishSync($topic, $payload, 1);
        if ($client->status()['reconnects'] !== $reconnects) {
            $this->declare($queue, $client->status()['reconnects']);
            $client->publishSync($topic, $payload, 1);
        }
    }

    /**
     * Makes sure the broker keeps jobs of $queue for a worker to come: the
     * first time, it looks at the retained states of the queue's consumers.
     * When none is online, the broker would keep a job only in the sessions
     * of workers that are away, or drop it when there are none: a session that
     * subscribes and leaves (the queue's anchor, announced offline) keeps jobs
     * until a worker serves it. When the connection reconnected since
     * ($reconnects grew) the anchor subscribes again in any case: the broker
     * may have restarted, and the workers may not have subscribed again yet.
     * (A connection that reconnected before the queue's first look needs no
     * more: the workers' states say offline until they are back.)
     */
    private function declare(string $queue, int $reconnects): void
    {
        $declaredAt = $this->declared[$queue] ?? null;
        if ($declaredAt === $reconnects) {
            return;
        }
        $client = $this->publisher();
        $states = $this->topics->states($queue);
        $online = false;
        foreach (Retained::readAll($client, $states, substr($states, 0, -1) . '~probe') as $state) {
            $online = $online || (json_decode($state, true)['state'] ?? null) === 'online';
        }
        if (!$online || $declaredAt !== null) {
            $id = sprintf('%s.anchor.%s', $this->config->group, Topics::key($queue));
            $options = array_replace($this->options(), ['clean_session' => false, 'qos' => 1]);
            foreach ([$id => $this->topics->ready($queue), "$id.delayed" => $this->topics->delayed($queue)] as $clientId => $topic) {
                $session = new Client(array_replace($options, ['client_id' => $clientId]), "mqtt-queue-anchor:$clientId");
                $subscriber = new Subscriber([$session]);
                $subscriber->subscribe($this->topics->share($topic), 1);
                $session->close();
                self::$anchors[] = $subscriber;
            }
            $client->publishSync($this->topics->state($queue, $id), Consumer::state('offline', 'anchor'), 1, true);
        }
        $this->declared[$queue] = $reconnects;
    }

    /** A message on a queue's topic that is not a job: acknowledged (by the caller), logged and reported. */
    private function reject(string $topic, string $payload, string $reason): void
    {
        $exception = new RejectedJobMessage(sprintf('%s: the message on "%s" was acknowledged and dropped, %s (%d bytes)', $this->config->path, $topic, $reason, strlen($payload)));
        $this->container->make(ExceptionHandler::class)->report($exception);
        $this->container->make(Dispatcher::class)->dispatch(new MqttMessageRejected($this->prefix() . $topic, $payload, $this->config->connection, $reason, $topic));
    }

    private function publisher(): Client
    {
        return $this->connections->get($this->config->connection);
    }

    private function unprefixedPublisher(): Client
    {
        return new Client(array_replace($this->options(), ['prefix' => '']), 'mqtt-queue-unprefixed:' . $this->config->connection);
    }

    private function prefix(): string
    {
        return $this->broadcast->connection($this->config->connection)->prefix;
    }

    /** @return array<string, mixed> */
    private function options(): array
    {
        if (!class_exists(Client::class)) {
            throw ExtensionMissingException::forThisPhp();
        }
        return $this->broadcast->connection($this->config->connection)->clientOptions(false);
    }
}
