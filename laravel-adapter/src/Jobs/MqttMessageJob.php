<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use MqttBroadcast\Laravel\Concerns\SerializesBinaryMessage;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * Publishes one message from a queue worker, with publishSync(): a message the
 * broker did not acknowledge fails the job, and the queue's retries apply.
 */
class MqttMessageJob implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;
    use SerializesBinaryMessage;

    /** The payload, JSON-encoded at dispatch when the message was not a string. */
    public readonly string $message;

    public function __construct(
        public readonly string $topic,
        mixed $message,
        public readonly string $broker = 'default',
        public readonly ?int $qos = null,
        public readonly ?bool $retain = null,
        /** MQTT 5 publish properties */
        public readonly ?array $properties = null,
    ) {
        $this->message = MqttBroadcast::payload($message);
        $queue = app(MqttBroadcastConfig::class)->queue;
        $this->onConnection($queue->connection);
        $this->onQueue($queue->name);
    }

    public function handle(MqttBroadcast $mqtt): void
    {
        $mqtt->publishSync($this->topic, $this->message, $this->broker, $this->qos, $this->retain, properties: $this->properties);
    }
}
