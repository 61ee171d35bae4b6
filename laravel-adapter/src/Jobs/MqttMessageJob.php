<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\Jobs\SyncJob;
use MqttBroadcast\Laravel\Concerns\SerializesBinaryMessage;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * Publishes one message from a queue worker, with publishSync(): a message the
 * broker did not acknowledge fails the attempt, the queue retries it
 * (queue.tries, queue.backoff), and one that failed for good is kept in the
 * failed-publish store (mqtt-broadcast:failed, :retry).
 *
 * The first five arguments are those of the pure-PHP package's job, in its
 * order; what this package adds comes after them.
 */
class MqttMessageJob implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;
    use SerializesBinaryMessage;

    /** The payload, JSON-encoded at dispatch when the message was not a string. */
    public readonly string $message;

    public int $tries;

    /** @var list<int> seconds before each retry */
    public array $backoff;

    /**
     * @param array<string, mixed>|null $properties MQTT 5 publish properties
     */
    public function __construct(
        public readonly string $topic,
        mixed $message,
        public readonly string $broker = 'default',
        public readonly ?int $qos = null,
        /**
         * The pure-PHP package's fifth argument, kept for its position. It
         * changes nothing here: a publishing connection always starts clean
         * (its client id is generated per process), and the extension keeps
         * unacknowledged messages itself across reconnects.
         */
        public readonly bool $cleanSession = true,
        public readonly ?bool $retain = null,
        public readonly ?array $properties = null,
    ) {
        $this->message = MqttBroadcast::payload($message);
        $queue = app(MqttBroadcastConfig::class)->queue;
        $this->tries = $queue->tries;
        $this->backoff = $queue->backoff;
        $this->onConnection($queue->connection);
        $this->onQueue($queue->name);
    }

    public function handle(MqttBroadcast $mqtt): void
    {
        // Over a "throttle" rate limit a queued job gives its worker back and
        // comes again later; the sync queue cannot release a job, so there
        // publishSync() waits instead.
        $wait = $mqtt->throttledFor($this->broker);
        if ($wait > 0 && $this->job !== null && !$this->job instanceof SyncJob) {
            $this->release($wait);
            return;
        }
        $mqtt->publishSync($this->topic, $this->message, $this->broker, $this->qos, $this->retain, properties: $this->properties);
    }

    /** After the last attempt: the message goes to the failed-publish store, never lost silently. */
    public function failed(?\Throwable $exception): void
    {
        try {
            FailedMqttJob::record($this, $exception);
        } catch (\Throwable $e) {
            app(ExceptionHandler::class)->report($e);
        }
    }

    /** @return list<string> for Horizon */
    public function tags(): array
    {
        return ['mqtt-broadcast', "mqtt-broadcast:connection:{$this->broker}", "mqtt-broadcast:topic:{$this->topic}"];
    }
}
