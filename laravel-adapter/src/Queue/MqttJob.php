<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Illuminate\Container\Container;
use Illuminate\Contracts\Queue\Job as JobContract;
use Illuminate\Queue\Jobs\Job;

/**
 * A job received from the broker. Deleting, releasing or failing it finishes
 * its message, which the worker acknowledges before it takes the next job
 * (or when it exits): a worker that dies before that leaves the message
 * unacknowledged, and the broker delivers it again.
 */
class MqttJob extends Job implements JobContract
{
    /** @param array<string, mixed> $decoded */
    public function __construct(
        Container $container,
        private readonly MqttQueue $mqtt,
        private readonly Consumer $consumer,
        private readonly string $raw,
        private readonly array $decoded,
        private readonly int $attempts,
        ?string $connectionName,
        string $queue,
    ) {
        $this->container = $container;
        $this->connectionName = $connectionName;
        $this->queue = $queue;
    }

    public function getRawBody()
    {
        return $this->raw;
    }

    public function getJobId()
    {
        return $this->decoded['id'] ?? null;
    }

    /** Counted by the broker's record of the consumer, across restarts and hosts: see Consumer::reserve(). */
    public function attempts()
    {
        return $this->attempts;
    }

    public function delete()
    {
        parent::delete();
        $this->consumer->finish();
    }

    public function release($delay = 0)
    {
        parent::release($delay);
        // Published again before the original is acknowledged: a crash in
        // between runs it twice rather than never. Acknowledged at once, not
        // with the next pop: a worker that dies now must not run the original
        // before the delay of the copy.
        $this->mqtt->releaseRaw($this->decoded, $this->attempts, (int) $delay, $this->queue);
        $this->consumer->finish();
        $this->consumer->acknowledge();
    }
}
