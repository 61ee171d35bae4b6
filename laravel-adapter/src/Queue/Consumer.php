<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\Subscriber;

/**
 * One queue served through the persistent sessions of one worker slot: the
 * session of ready jobs (client id $id, a member of the shared subscription
 * $share/{group}/{queue}) and the session of delayed jobs ($id.delayed).
 *
 * A message handed out is acknowledged to the broker only when asked to,
 * after its job was deleted, released or failed: the extension acknowledges
 * a message of next() when next() is called again, so acknowledging means
 * asking for the following message, which is kept for the next pop().
 *
 * Served by its own worker ($adopted false: it announces itself online, and
 * its last will announces it offline), or by another worker while its own is
 * away ($adopted true: it says nothing, and gives the sessions back as soon
 * as the broker hands them to their owner).
 */
final class Consumer
{
    /** Seconds between two rounds over the delayed jobs. */
    private const DELAYED_ROUND = 1.0;
    /** Delayed jobs looked at per round. */
    private const DELAYED_PER_ROUND = 1000;
    /**
     * Jobs remembered as finished, to recognise one the broker sends again:
     * at least what one session can have in flight (Mosquitto 2.0.11 sends
     * more than its max_inflight_messages).
     */
    private const RECENT = 10000;

    private Client $readyClient;
    private Subscriber $ready;
    private Client $delayedClient;
    private Subscriber $delayed;
    /** the message of the job in progress, or of one that finished and awaits its acknowledgement */
    private ?Message $current = null;
    private bool $finished = false;
    /** the message that came with an acknowledgement, for the next pop */
    private ?Message $lookahead = null;
    private ?Message $heldDelayed = null;
    private float $nextDelayedRound = 0.0;
    /** @var array{id: string, attempts: int}|null the job this consumer started last, as the broker keeps it */
    private ?array $reservation;
    private bool $closed = false;
    private bool $lost = false;
    private float $nextHeartbeat = 0.0;
    /** @var array<string, true> ids of the latest jobs that finished here, oldest first */
    private array $recent = [];
    /** @var list<Subscriber> subscribers of closed consumers, never dropped (see close()) */
    private static array $closedSubscribers = [];

    /**
     * @param array<string, mixed> $options the connection's client options
     * @param \Closure(string, string, string): void $reject a message that is not a job: topic, payload, reason
     * @param \Closure(string, string, string): void $publish publishes a job: topic, payload, queue (see MqttQueue::publishJob())
     */
    public function __construct(
        public readonly string $id,
        public readonly string $queue,
        private readonly Topics $topics,
        array $options,
        private readonly Client $control,
        public readonly bool $adopted,
        private readonly \Closure $reject,
        private readonly \Closure $publish,
    ) {
        $session = ['clean_session' => false, 'qos' => 1];
        if ($adopted) {
            // Taken over by the owner coming back: reconnecting at once would
            // take its sessions away again. pop() notices and gives them up.
            $session['reconnect'] = ['initial_delay' => 30.0, 'max_delay' => 60.0, 'max_retries' => 0];
        } else {
            $session['will'] = ['topic' => $topics->state($queue, $id), 'payload' => self::state('offline', 'connection lost'), 'qos' => 1, 'retain' => true];
        }
        $this->readyClient = new Client(array_replace($options, $session, ['client_id' => $id]), "mqtt-queue:$id");
        unset($session['will']);
        $this->delayedClient = new Client(array_replace($options, $session, ['client_id' => "$id.delayed"]), "mqtt-queue:$id.delayed");
        // Subscribed at once: the extension keeps a persistent session's
        // messages for a subscriber for a few seconds only.
        $this->ready = new Subscriber([$this->readyClient]);
        $this->ready->subscribe($topics->share($topics->ready($queue)), 1);
        $this->delayed = new Subscriber([$this->delayedClient]);
        $this->delayed->subscribe($topics->share($topics->delayed($queue)), 1);
        // What an earlier connection of these names went through is not news.
        $this->readyClient->events();
        $this->delayedClient->events();
        $this->reservation = self::decodeReservation(Retained::read($control, $topics->reservation($queue, $id)));
        if (!$adopted) {
            $this->readyClient->waitConnected(5.0);
            $control->publishSync($topics->state($queue, $id), self::state('online', null), 1, true);
            $this->nextHeartbeat = microtime(true);
        }
    }

    /** The next message of a ready job, or null when none came within $wait seconds. */
    public function receive(float $wait): ?Message
    {
        if ($this->current !== null && !$this->finished) {
            // Its job did not finish: an exception left pop() (the broker was
            // away while its attempt was recorded) or the job. It runs again.
            return $this->current;
        }
        while (true) {
            $message = $this->lookahead ?? $this->ready->next($wait);
            $this->lookahead = null;
            $this->current = $message;
            $this->finished = false;
            if ($message === null || !isset($this->recent[self::idOf($message)])) {
                return $message;
            }
            // Sent again after a reconnect, when its acknowledgement was lost
            // with the old connection: it finished here already. (Not always
            // flagged as a duplicate: Mosquitto restored from its persistence
            // sends what it had in flight as new.)
            $this->finished = true;
            $this->acknowledge();
        }
    }

    /** The job of the current message was deleted, released or failed (or it was no job at all). */
    public function finish(): void
    {
        if ($this->current !== null && !$this->finished) {
            $this->recent[self::idOf($this->current)] = true;
            if (count($this->recent) > self::RECENT) {
                unset($this->recent[array_key_first($this->recent)]);
            }
        }
        $this->finished = true;
    }

    /** The id of a job message: its "id", else (another producer's job) its content. */
    public static function idOf(Message $message): string
    {
        $job = json_decode($message->payload, true);
        return is_array($job) && is_string($job['id'] ?? null) ? $job['id'] : sha1($message->payload);
    }

    /** Acknowledges the current message once its job finished. */
    public function acknowledge(): void
    {
        if ($this->current !== null && $this->finished && !$this->closed) {
            $this->current = null;
            $this->lookahead = $this->ready->next(0.0);
        }
    }

    /**
     * Counts an attempt of the job with this id and records it with the broker
     * before the job runs, so a worker that dies during the job leaves the
     * count behind for whoever runs it next.
     */
    public function reserve(string $jobId, int $previousAttempts): int
    {
        $attempts = ($this->reservation !== null && $this->reservation['id'] === $jobId ? $this->reservation['attempts'] : $previousAttempts) + 1;
        $this->reservation = ['id' => $jobId, 'attempts' => $attempts];
        $this->control->publishSync($this->topics->reservation($this->queue, $this->id), json_encode($this->reservation, JSON_THROW_ON_ERROR), 1, true);
        return $attempts;
    }

    /**
     * A round over the delayed jobs, once a second: those whose time came go
     * to the ready topic, the others back to the delayed topic. Each is
     * acknowledged once republished; a crash in between leaves it in the session.
     */
    public function moveDueJobs(float $now): void
    {
        if ($now < $this->nextDelayedRound || $this->closed) {
            return;
        }
        $this->nextDelayedRound = $now + self::DELAYED_ROUND;
        $seen = [];
        for ($i = 0; $i < self::DELAYED_PER_ROUND; $i++) {
            $message = $this->heldDelayed ?? $this->delayed->next(0.0);
            $this->heldDelayed = null;
            if ($message === null) {
                return;
            }
            $job = json_decode($message->payload, true);
            if (!is_array($job) || !is_string($job['id'] ?? null)) {
                ($this->reject)($message->topic, $message->payload, 'a delayed job that is not a Laravel job payload of this queue');
                continue;
            }
            if (isset($seen[$job['id']])) {
                // Back here within this round: it waits, unacknowledged, for the next one.
                $this->heldDelayed = $message;
                return;
            }
            $seen[$job['id']] = true;
            $due = !is_numeric($job['available_at'] ?? null) || (float) $job['available_at'] <= microtime(true);
            ($this->publish)($due ? $this->topics->ready($this->queue) : $this->topics->delayed($this->queue), $message->payload, $this->queue);
        }
    }

    /**
     * Says again, every $interval seconds, that its worker is alive: a state
     * that nobody renews is stale (a worker that died while the broker was
     * down never had its will published).
     */
    public function heartbeat(float $now, float $interval): void
    {
        if ($this->adopted || $this->closed || $now < $this->nextHeartbeat) {
            return;
        }
        $this->nextHeartbeat = $now + $interval;
        $this->control->publish($this->topics->state($this->queue, $this->id), self::state('online', null), 1, true);
    }

    /**
     * What happened to the two connections since the last look. After a
     * reconnect the state is said again, as the broker may have published the
     * will meanwhile. (The extension makes the $share subscriptions again
     * itself, which Mosquitto 2.0 restored from its persistence drops: README,
     * "Job queues over MQTT".) Returns whether an adopted consumer lost its
     * sessions (its owner took them back).
     */
    public function watchConnections(): bool
    {
        foreach ([$this->readyClient, $this->delayedClient] as $client) {
            foreach ($client->events() as $event) {
                if ($this->adopted && in_array($event->type, ['disconnected', 'failed', 'closed'], true)) {
                    $this->lost = true;
                } elseif (!$this->adopted && $event->type === 'connected' && !$this->closed) {
                    $this->nextHeartbeat = 0.0;
                }
            }
        }
        return $this->lost;
    }

    /**
     * Acknowledges what finished and disconnects; the subscriptions stay on
     * the broker, so jobs keep waiting in these sessions. A worker that stops
     * says so: other workers serve its sessions until it is back.
     */
    public function close(): void
    {
        if ($this->closed) {
            return;
        }
        $this->acknowledge();
        if (!$this->adopted) {
            try {
                $this->control->publishSync($this->topics->state($this->queue, $this->id), self::state('offline', 'stopped'), 1, true);
            } catch (\Mqtt\MqttException) {
                // The broker is away: it publishes the will instead.
            }
        }
        $this->closed = true;
        // Closed before the subscribers go: dropping a subscriber of a live
        // connection would unsubscribe, and the session would leave the group.
        $this->readyClient->close();
        $this->delayedClient->close();
        array_push(self::$closedSubscribers, $this->ready, $this->delayed);
    }

    public static function state(string $state, ?string $reason): string
    {
        return json_encode(['state' => $state, 'reason' => $reason, 'host' => gethostname(), 'pid' => getmypid(), 'at' => microtime(true)], JSON_THROW_ON_ERROR);
    }

    /** @return array{id: string, attempts: int}|null */
    private static function decodeReservation(?string $payload): ?array
    {
        $record = $payload === null ? null : json_decode($payload, true);
        return is_array($record) && is_string($record['id'] ?? null) && is_int($record['attempts'] ?? null)
            ? ['id' => $record['id'], 'attempts' => $record['attempts']]
            : null;
    }
}
