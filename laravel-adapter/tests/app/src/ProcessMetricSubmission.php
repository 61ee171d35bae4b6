<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/** The bridge story's job, built by the route with the topic's levels, the decoded payload and the message. */
class ProcessMetricSubmission implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;

    /** @param array{value: int|float, timestamp?: int, dedupe_id?: string} $payload */
    public function __construct(
        public string $tenant,
        public string $agent,
        public string $metric,
        public array $payload,
        public MqttMessageReceived $message,
    ) {
    }

    public function handle(): void
    {
        Routed::record('metric', [
            'tenant' => $this->tenant,
            'agent' => $this->agent,
            'metric' => $this->metric,
            'value' => $this->payload['value'],
            'dedupe_id' => $this->payload['dedupe_id'] ?? null,
            'topic' => $this->message->topic,
        ]);
    }
}
