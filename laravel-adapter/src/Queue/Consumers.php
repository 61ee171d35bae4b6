<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\Subscriber;

/**
 * The worker side of a queue connection in one process: a consumer per queue
 * it pops from, under this process's worker slot, and the consumers of
 * workers that went away, which it serves until they are back.
 *
 * Workers watch each other through the retained consumer states: a consumer
 * that has been offline for adoptAfter() seconds (its will says so the moment
 * its connection dies) is served by the online worker of its queue whose
 * consumer id sorts first. Every worker computes the same choice from the
 * same states, so one worker serves it.
 */
final class Consumers
{
    /** Seconds between two looks at the other workers and at the delayed jobs. */
    private const LOOK_AROUND = 0.25;
    /**
     * Seconds a new worker only watches: it learns which workers are online
     * before it decides to serve those that are not. Two workers that think
     * they both serve a session take it from each other.
     */
    private const SETTLE = 1.0;
    /** Seconds a session just adopted has to deliver what it holds before jobs are taken again. */
    private const ADOPTED_DELIVERS = 0.2;

    private Client $control;
    private Subscriber $watch;
    private WorkerSlot $slot;
    /** @var array<string, Consumer> by queue */
    private array $own = [];
    /** @var array<string, Consumer> by consumer id */
    private array $adopted = [];
    /**
     * What each consumer said last, and when we heard it (this host's clock)
     *
     * @var array<string, array<string, array{state: string, anchor: bool, since: float, heard: float}>> by queue, then consumer id
     */
    private array $states = [];
    /** @var array<string, int> where the last pop of each queue started, so every consumer gets its turn */
    private array $turn = [];
    private float $nextLookAround = 0.0;
    /** No adoption before: the retained states of the other workers are in by then. */
    private float $settledAt = 0.0;
    private bool $settled = false;
    /** No job is taken before: the sessions adopted last deliver what they hold meanwhile. */
    private float $adoptedDeliverUntil = 0.0;
    private bool $closed = false;

    /**
     * @param array<string, mixed> $options the connection's client options
     * @param \Closure(string, string, string): void $reject see Consumer
     * @param \Closure(string, string, string): void $publish see Consumer
     */
    public function __construct(
        private readonly MqttQueueConfig $config,
        private readonly Topics $topics,
        private readonly array $options,
        string $slotDirectory,
        private readonly \Closure $reject,
        private readonly \Closure $publish,
    ) {
        $this->slot = WorkerSlot::claim($slotDirectory, $config->group, $config->workerName ?? WorkerSlot::hostName());
        $this->control = new Client($options, 'mqtt-queue-control:' . $config->group);
        $this->watch = new Subscriber([$this->control]);
        // At exit, also after `queue:work` stops: acknowledge the last job.
        register_shutdown_function(fn () => $this->close());
    }

    /**
     * The next ready message of $queue from this worker's consumer or one it
     * adopted, with the consumer to report back to.
     *
     * @return array{Consumer, Message}|null
     */
    public function pop(string $queue, float $wait): ?array
    {
        $own = $this->own[$queue] ??= $this->open($queue);
        $this->acknowledgeFinished();
        // Nothing is taken before the sessions of absent workers are served
        // too, and a session just adopted gets a moment to deliver what it
        // holds (for every queue of the worker's loop): --queue=high,default,low
        // sees all of high first. This waits rather than returning null, which
        // `queue:work --stop-when-empty` would take for an empty queue; about
        // a second once at start, bounded.
        $deadline = microtime(true) + self::SETTLE + 2.0;
        while (true) {
            $now = microtime(true);
            if (!$this->settled && $now >= $this->settledAt) {
                // The first look once settled: it adopts before anything is taken.
                $this->settled = true;
                $this->nextLookAround = 0.0;
            }
            $this->lookAround();
            if (($this->settled && microtime(true) >= $this->adoptedDeliverUntil) || microtime(true) >= $deadline) {
                break;
            }
            usleep(20_000);
        }
        $candidates = [$own];
        foreach ($this->adopted as $id => $consumer) {
            if ($consumer->queue !== $queue) {
                continue;
            }
            // Taken over by its owner (or, briefly, another worker): what it
            // still holds came on a connection that is gone, and comes again to the new one.
            if ($consumer->watchConnections()) {
                $consumer->close();
                unset($this->adopted[$id]);
                continue;
            }
            $candidates[] = $consumer;
        }
        $start = $this->turn[$queue] = (($this->turn[$queue] ?? -1) + 1) % count($candidates);
        for ($i = 0; $i < count($candidates); $i++) {
            $consumer = $candidates[($start + $i) % count($candidates)];
            $last = $i === count($candidates) - 1;
            $message = $consumer->receive($last ? $wait : 0.0);
            if ($message !== null) {
                return [$consumer, $message];
            }
        }
        return null;
    }

    /** Acknowledges every message whose job finished. */
    public function acknowledgeFinished(): void
    {
        foreach ([...$this->own, ...$this->adopted] as $consumer) {
            $consumer->acknowledge();
        }
    }

    public function close(): void
    {
        if ($this->closed) {
            return;
        }
        $this->closed = true;
        foreach ([...$this->adopted, ...$this->own] as $consumer) {
            try {
                $consumer->close();
            } catch (\Throwable) {
                // At exit: what was not acknowledged comes again, nothing is lost.
            }
        }
    }

    private function open(string $queue): Consumer
    {
        $this->watch->subscribe($this->topics->states($queue), 1);
        $this->states[$queue] ??= [];
        $this->settledAt = microtime(true) + self::SETTLE;
        $this->settled = false;
        $id = sprintf('%s.%s.%s', $this->config->group, $this->slot->name, Topics::key($queue));
        return new Consumer($id, $queue, $this->topics, $this->options, $this->control, false, $this->reject, $this->publish);
    }

    /** What the other workers of our queues say, who serves those that are away, and the delayed jobs. */
    private function lookAround(): void
    {
        $now = microtime(true);
        if ($now < $this->nextLookAround) {
            return;
        }
        $this->nextLookAround = $now + self::LOOK_AROUND;
        $this->readStates($now);
        $adopted = count($this->adopted);
        foreach ($this->own as $queue => $own) {
            $this->adoptOrRelease($queue, $own->id, $now);
        }
        foreach ([...$this->own, ...$this->adopted] as $consumer) {
            $consumer->watchConnections();
            $consumer->heartbeat($now, $this->config->adoptAfter());
            $consumer->moveDueJobs($now);
        }
        if (count($this->adopted) > $adopted) {
            $this->adoptedDeliverUntil = microtime(true) + self::ADOPTED_DELIVERS;
        }
    }

    private function readStates(float $now): void
    {
        $keys = [];
        foreach (array_keys($this->own) as $queue) {
            $keys[Topics::key($queue)] = $queue;
        }
        while (($message = $this->watch->next(0.0)) !== null) {
            $levels = explode('/', $message->topic);
            $queue = $keys[$levels[count($levels) - 2] ?? ''] ?? null;
            $id = Topics::consumerOf($message->topic);
            if ($queue === null || str_starts_with($id, '~')) {
                continue;
            }
            $state = json_decode($message->payload, true);
            if (!is_array($state) || !is_string($state['state'] ?? null)) {
                unset($this->states[$queue][$id]);
                continue;
            }
            $known = $this->states[$queue][$id] ?? null;
            $this->states[$queue][$id] = [
                'state' => $state['state'],
                'anchor' => ($state['reason'] ?? null) === 'anchor',
                'since' => $known !== null && $known['state'] === $state['state'] ? $known['since'] : $now,
                'heard' => $now,
            ];
        }
    }

    private function adoptOrRelease(string $queue, string $ownId, float $now): void
    {
        // The election counts every worker that is not away yet, offline ones
        // included: after a broker restart every will is published at once,
        // and each worker reconnects in its own time. Counting only those
        // heard online again, each worker back first would think itself
        // elected, and they would take the sessions from each other.
        $electors = [$ownId];
        $away = [];
        foreach ($this->states[$queue] as $id => $state) {
            $seconds = $this->awayFor($state, $now);
            if ($seconds >= $this->config->adoptAfter()) {
                $away[$id] = $seconds;
            } elseif (!$state['anchor']) {
                $electors[] = $id;
            }
        }
        $elected = min($electors) === $ownId;
        foreach ($this->adopted as $id => $consumer) {
            if ($consumer->queue === $queue && (!$elected || !isset($away[$id]) || $consumer->watchConnections())) {
                $consumer->close();
                unset($this->adopted[$id]);
            }
        }
        if (!$elected || $now < $this->settledAt) {
            return;
        }
        foreach (array_keys($away) as $id) {
            if ($id !== $ownId && !isset($this->adopted[$id])) {
                $this->adopted[$id] = new Consumer($id, $queue, $this->topics, $this->options, $this->control, true, $this->reject, $this->publish);
            }
        }
    }

    /**
     * For how many seconds a consumer has been away: since its state says
     * offline (an anchor always), or since an online state nobody renewed
     * within retry_after (a worker that died while the broker was down never
     * had its will published). Negative while it is online.
     *
     * @param array{state: string, anchor: bool, since: float, heard: float} $state
     */
    private function awayFor(array $state, float $now): float
    {
        return match (true) {
            $state['state'] === 'online' => $now - $state['heard'] - $this->config->retryAfter,
            $state['anchor'] => INF,
            default => $now - $state['since'],
        };
    }
}
