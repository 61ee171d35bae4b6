<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Daemon;

use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Events\Dispatcher;
use Mqtt\Client;
use Mqtt\Event;
use Mqtt\Message;
use Mqtt\Subscriber;
use Mqtt\TimeoutException;
use MqttBroadcast\Laravel\Config\ConnectionConfig;
use MqttBroadcast\Laravel\Config\MemoryConfig;
use MqttBroadcast\Laravel\Connections;
use MqttBroadcast\Laravel\Events\MqttConnected;
use MqttBroadcast\Laravel\Events\MqttConnectionFailed;
use MqttBroadcast\Laravel\Events\MqttConnectionLost;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Events\MqttMessageRejected;
use MqttBroadcast\Laravel\Events\MqttReconnecting;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Logging\MessageLog;
use MqttBroadcast\Laravel\Routing\Route;
use MqttBroadcast\Laravel\Routing\RouteDispatcher;
use MqttBroadcast\Laravel\Routing\Router;
use Psr\Log\LoggerInterface;

/**
 * The long-running receiver behind `php artisan mqtt-broadcast`: one
 * Mqtt\Subscriber over the environment's connections, every message of the
 * configured topics dispatched as MqttMessageReceived, the messages of
 * routes/mqtt.php handed to their routes (matched by the extension), and the
 * connections' events dispatched as MqttConnected and the like. Horizon's
 * habits: signal handlers only note the signal (a stop also makes loop()
 * return); the loop does the work: between two loop() calls the signals, and
 * every second the housekeeping: connection states, log batch, memory, heartbeat.
 *
 * Signals, as the pure-PHP package and Horizon read them: SIGTERM, SIGINT and
 * SIGQUIT stop, SIGUSR1 restarts (stops with exit code 0 for the process
 * manager to start it again), SIGUSR2 pauses and SIGCONT continues.
 */
class Daemon
{
    public const EXIT_OK = 0;
    /** Something other than a listener failed inside the loop (the exception surfaces too). */
    public const EXIT_ERROR = 1;
    /** A connection failed for good (terminate_on_max_retries): let the process manager restart the daemon. */
    public const EXIT_CONNECTION_FAILED = 3;
    /** memory.threshold_mb exceeded with memory.auto_restart (Laravel's queue worker uses 12 too). */
    public const EXIT_MEMORY = 12;

    /** Seconds between two rounds of housekeeping. */
    private const HOUSEKEEPING_SECONDS = 1.0;
    /**
     * Longest wait of one loop() call for a message. loop() handles one message
     * per call, and stop() ends a Subscriber for good, so pause, continue and
     * restart are noticed between two calls: within this, or after the
     * message being handled.
     */
    private const WAIT_SECONDS = 0.1;
    /** Longest wait for the connections at start, for the summary to show their state. */
    private const CONNECT_WAIT_SECONDS = 5.0;

    private bool $working = false;
    /** SIGUSR2 until SIGCONT: no message is taken, the connections stay open. */
    private bool $paused = false;
    /** @var array<string, true> pause, continue, restart: noted by the signal handlers, done by the loop */
    private array $pendingSignals = [];
    /** @var array<string, float> since when each connection that is not connected has been failing */
    private array $failingSince = [];
    private int $exitCode = self::EXIT_OK;
    private ?Subscriber $subscriber = null;
    /** loop()'s handler of the messages that match no route, built once */
    private ?\Closure $handler = null;
    /** @var array<string, Client> by connection name */
    private array $clients = [];
    /** @var array<string, string> the last state seen, by connection name */
    private array $states = [];
    /** @var array<string, string> the prefix of each connection, by name */
    private array $prefixes = [];
    /** @var array<string, list<string>> the configured topic filters of each connection, by name */
    private array $connectionTopics = [];
    /**
     * @var array<string, list<string>>|null the configured topics by connection, when a message may arrive
     * that they do not match (connections with different topics, routes, fallbacks); null: all match
     */
    private ?array $topics = null;
    /** @var array<string, list<string>> the fallback filters of routes/mqtt.php, by connection */
    private array $fallbacks = [];
    /**
     * The message the route handlers are being called for (the extension calls
     * one per matching route), and its MqttMessageReceived, which they all get.
     */
    private ?Message $routing = null;
    private ?MqttMessageReceived $routedEvent = null;
    private int $handled = 0;
    /** @var array<string, int> messages received, by connection */
    private array $receivedBy = [];
    /** @var array<string, array<string, int>> messages each configured topic filter matched, by connection, then filter */
    private array $receivedByTopic = [];
    /** @var array<int, array{received: int, rejected: int}> messages of each route, by the route's object id */
    private array $receivedByRoute = [];
    /** @var array<string, array<string, int>> messages of a fallback that matched no route, by connection, then filter */
    private array $receivedByFallback = [];
    /** the minute the throughput counts are of, and the totals (received, published) when it began */
    private int $minute = 0;
    /** @var array{int, int} */
    private array $minuteStart = [0, 0];
    /** @var array{int, int} the totals at the last count */
    private array $lastTotals = [0, 0];
    /** @var array{int, int}|null the counts of the minute last written to the cache */
    private ?array $minuteWritten = null;
    private int $listenerErrors = 0;
    private float $startedAt = 0.0;
    private bool $overMemory = false;

    /**
     * @param list<ConnectionConfig> $connections
     * @param \Closure(string, string): void $output (level, line): the command's console output
     */
    public function __construct(
        public readonly string $name,
        private readonly string $environment,
        private readonly array $connections,
        private readonly MemoryConfig $memory,
        /** the Subscriber's max_inbox: received messages waiting here before the connections stop reading */
        private readonly int $maxInbox,
        private readonly Connections $connectionPool,
        private readonly Dispatcher $events,
        private readonly ExceptionHandler $exceptions,
        private readonly DaemonRegistry $registry,
        private readonly Throughput $throughput,
        private readonly MessageLog $log,
        private readonly Router $router,
        private readonly RouteDispatcher $dispatcher,
        private readonly LoggerInterface $logger,
        private readonly \Closure $output,
    ) {
    }

    /** Runs until a signal, the memory threshold or a failed connection stops it; returns the exit code. */
    public function run(): int
    {
        $this->working = true;
        $this->startedAt = microtime(true);
        $this->listenForSignals();
        $this->start();
        try {
            $this->handler = $this->handle(...);
            $housekeepingAt = microtime(true) + self::HOUSEKEEPING_SECONDS;
            while ($this->working) {
                if ($this->paused) {
                    usleep((int) (self::WAIT_SECONDS * 1e6));
                } else {
                    $this->subscriber->loop($this->handler, timeout: self::WAIT_SECONDS, limit: 1);
                }
                $this->processPendingSignals();
                if ($this->working && microtime(true) >= $housekeepingAt) {
                    $this->housekeeping();
                    $housekeepingAt = microtime(true) + self::HOUSEKEEPING_SECONDS;
                }
            }
        } catch (\Throwable $e) {
            // Not a listener's (handle() reports those): the extension's. Clean up, then let it surface.
            $this->exitCode = self::EXIT_ERROR;
            throw $e;
        } finally {
            $this->shutdown();
        }
        return $this->exitCode;
    }

    /** Stops after the message being handled, if any; what the signal handlers call. */
    public function terminate(): void
    {
        $this->stop(self::EXIT_OK);
    }

    private function stop(int $exitCode): void
    {
        if ($this->working) {
            $this->exitCode = $exitCode;
        }
        $this->working = false;
        $this->subscriber?->stop();
    }

    private function listenForSignals(): void
    {
        if (!function_exists('pcntl_async_signals')) {
            $this->say('warning', 'The pcntl extension is not loaded: SIGTERM and SIGINT end the daemon at once instead of gracefully.');
            return;
        }
        pcntl_async_signals(true);
        foreach ([SIGTERM, SIGINT, SIGQUIT] as $signal) {
            pcntl_signal($signal, fn () => $this->terminate());
        }
        foreach ([SIGUSR1 => 'restart', SIGUSR2 => 'pause', SIGCONT => 'continue'] as $signal => $action) {
            pcntl_signal($signal, function () use ($action): void {
                $this->pendingSignals[$action] = true;
            });
        }
    }

    private function processPendingSignals(): void
    {
        while ($this->pendingSignals !== []) {
            $action = array_key_first($this->pendingSignals);
            unset($this->pendingSignals[$action]);
            match ($action) {
                'pause' => $this->pause(),
                'continue' => $this->continue(),
                'restart' => $this->restart(),
            };
        }
    }

    private function pause(): void
    {
        if (!$this->paused) {
            $this->paused = true;
            $this->report('info', 'Paused (SIGUSR2): no message is taken until SIGCONT. The connections stay open; what arrives waits, unacknowledged, in the inbox (max_inbox), then at the broker.');
        }
    }

    private function continue(): void
    {
        if ($this->paused) {
            $this->paused = false;
            $this->report('info', 'Continuing (SIGCONT).');
        }
    }

    private function restart(): void
    {
        $this->report('info', 'Restarting (SIGUSR1): stopping with exit code 0 for the process manager to start the daemon again.');
        $this->stop(self::EXIT_OK);
    }



    private function start(): void
    {
        $this->connectionPool->useDaemonIdentity();
        foreach ($this->connections as $connection) {
            $this->clients[$connection->name] = $this->connectionPool->get($connection->name);
            $this->prefixes[$connection->name] = $connection->prefix;
            $this->connectionTopics[$connection->name] = $connection->topics;
        }
        $this->subscriber = new Subscriber(array_values($this->clients), ['max_inbox' => $this->maxInbox]);
        $this->subscriber->onEvent($this->connectionEvent(...));
        $this->subscribe();
        $this->awaitConnections();
        $this->printSummary();
        $this->heartbeat();
    }

    /**
     * A Subscriber subscribes every filter on all of its connections. When the
     * connections list different topics, each gets all of them, and received()
     * drops what a connection's own list does not match; so for messages that
     * came for a route or a fallback.
     */
    private function subscribe(): void
    {
        $filters = [];
        $topicsByConnection = [];
        foreach ($this->connections as $connection) {
            $topicsByConnection[$connection->name] = $connection->topics;
            foreach ($connection->topics as $index => $filter) {
                $filters[$filter] ??= ['qos' => 0, 'key' => "mqtt-broadcast.connections.{$connection->name}.topics.$index", 'problem' => 'is not a valid topic filter'];
                $filters[$filter]['qos'] = max($filters[$filter]['qos'], $connection->qos);
            }
        }
        foreach ($this->router->fallbacks() as $fallback) {
            foreach ($this->connectionsOf($fallback['connection']) as $connection) {
                $this->fallbacks[$connection->name][] = $fallback['filter'];
                $filters[$fallback['filter']] ??= ['qos' => 0, 'key' => 'routes/mqtt.php', 'problem' => "fallback \"{$fallback['filter']}\" is not a valid topic filter"];
                $filters[$fallback['filter']]['qos'] = max($filters[$fallback['filter']]['qos'], $connection->qos);
            }
        }
        if ($this->router->routes() !== [] || $this->fallbacks !== []
            || count(array_unique(array_map(static fn (array $t) => implode("\n", $t), $topicsByConnection))) > 1) {
            $this->topics = $topicsByConnection;
        }
        foreach ($filters as $filter => $subscription) {
            $this->subscribing($subscription['key'], $subscription['problem'], fn () => $this->subscriber->subscribe((string) $filter, qos: $subscription['qos']));
        }
        foreach ($this->router->routes() as $route) {
            $connections = $this->connectionsOf($route->connection);
            if ($connections !== []) {
                $this->subscribing('routes/mqtt.php', "route \"{$route->pattern}\" is not a valid pattern", fn () => $this->subscriber->route(
                    $route->pattern,
                    fn (Message $message, array $params) => $this->handleRoute($route, $message, $params),
                    qos: max(array_map(static fn (ConnectionConfig $c) => $c->qos, $connections)),
                ));
            }
        }
    }

    private function subscribing(string $key, string $problem, \Closure $subscribe): void
    {
        try {
            $subscribe();
        } catch (\ValueError $e) {
            throw InvalidConfigException::because($key, "$problem: " . $e->getMessage(), $e);
        } catch (TimeoutException $e) {
            // Not confirmed yet: the subscription stays and is made again on every reconnect.
            $this->report('warning', $e->getMessage());
        }
    }

    /**
     * The daemon's connections a route of this connection is for: all of them
     * for a route without one, none for a connection of another environment.
     *
     * @return list<ConnectionConfig>
     */
    private function connectionsOf(?string $name): array
    {
        return array_values(array_filter($this->connections, static fn (ConnectionConfig $c) => $name === null || $c->name === $name));
    }

    private function awaitConnections(): void
    {
        $deadline = microtime(true) + self::CONNECT_WAIT_SECONDS;
        while ($this->working && microtime(true) < $deadline) {
            foreach ($this->clients as $client) {
                if ($client->status()['state'] !== 'connected') {
                    usleep(50_000);
                    continue 2;
                }
            }
            return;
        }
    }

    private function printSummary(): void
    {
        $this->report('info', sprintf(
            'mqtt-broadcast daemon %s started: pid %d, environment "%s", PHP %s, mqtt_broadcast %s.',
            $this->name,
            getmypid(),
            $this->environment,
            PHP_VERSION,
            phpversion('mqtt_broadcast') ?: 'unknown'
        ));
        foreach ($this->connections as $connection) {
            $status = $this->clients[$connection->name]->status();
            $this->states[$connection->name] = $status['state'];
            $this->say('info', sprintf(
                '  %s: %s, %s%s, client id %s, %s session; topics %s (QoS %d)',
                $connection->name,
                $connection->address(),
                $status['state'],
                $status['last_error'] !== null && $status['state'] !== 'connected' ? " ({$status['last_error']})" : '',
                $status['client_id'],
                $connection->hasPersistentSession() ? 'persistent' : 'clean',
                implode(', ', array_map(static fn (string $t) => $connection->prefix . $t, $connection->topics)),
                $connection->qos
            ));
            if (!$connection->cleanSession && !$connection->hasPersistentSession()) {
                $this->say('warning', "  {$connection->name}: clean_session is false but no clientId is set; a broker keeps a session per client id, so this connection uses a clean session. Set mqtt-broadcast.connections.{$connection->name}.clientId to keep one.");
            }
        }
        if ($this->router->routes() !== [] || $this->router->fallbacks() !== []) {
            $this->say('info', sprintf(
                '  routes/mqtt.php: %s',
                implode(', ', [
                    ...array_map(static fn (Route $r) => $r->pattern . ($r->connection !== null ? " ({$r->connection})" : ''), $this->router->routes()),
                    ...array_map(static fn (array $f) => "fallback {$f['filter']}" . ($f['connection'] !== null ? " ({$f['connection']})" : ''), $this->router->fallbacks()),
                ])
            ));
        }
        $this->say('info', sprintf(
            'Listening. Stop with SIGTERM or SIGINT (Ctrl-C); memory limit %d MB%s.',
            $this->memory->thresholdMb,
            $this->memory->autoRestart ? ' (exit code ' . self::EXIT_MEMORY . ' above it)' : ''
        ));
    }

    /** A message that matches no route: one of the configured topics, or of a fallback. */
    private function handle(Message $message): void
    {
        $event = $this->received($message);
        foreach ($this->fallbacks[$message->broker] ?? [] as $filter) {
            if (TopicFilter::matches($filter, $message->topic)) {
                $this->receivedByFallback[$message->broker][$filter] = ($this->receivedByFallback[$message->broker][$filter] ?? 0) + 1;
                $this->reject($event, $filter, 'matches no route');
                break;
            }
        }
    }

    /**
     * Called by the extension once per route the message matches, in the
     * order of routes/mqtt.php; the first call also does what every message gets.
     *
     * @param array<string, string> $params
     */
    private function handleRoute(Route $route, Message $message, array $params): void
    {
        if ($message !== $this->routing) {
            $this->routing = $message;
            $this->routedEvent = $this->received($message);
        }
        if ($route->connection !== null && $route->connection !== $message->broker) {
            return;
        }
        $counts = &$this->receivedByRoute[spl_object_id($route)];
        $counts ??= ['received' => 0, 'rejected' => 0];
        $counts['received']++;
        try {
            $reason = $this->dispatcher->dispatch($route, $this->routedEvent, $params);
        } catch (\Throwable $e) {
            $this->failed($e, "The route {$route->pattern}", $this->routedEvent);
            return;
        }
        if ($reason !== null) {
            $counts['rejected']++;
            $this->reject($this->routedEvent, $route->pattern, $reason);
        }
    }

    /**
     * Logs the message and dispatches MqttMessageReceived where the
     * connection's topics match it; returns the event, which route actions get too.
     */
    private function received(Message $message): MqttMessageReceived
    {
        // The topic as the broker delivered it, prefix included, as the pure-PHP package gave it.
        $event = new MqttMessageReceived(
            $this->prefixes[$message->broker] . $message->topic,
            $message->payload,
            $message->broker,
            qos: $message->qos,
            retain: $message->retain,
            properties: $message->properties,
        );
        $this->log->record($message->broker, $event->topic, $message->payload);
        $this->count($message);
        if ($this->topics === null || TopicFilter::matchesAny($this->topics[$message->broker] ?? [], $message->topic)) {
            try {
                $this->events->dispatch($event);
            } catch (\Throwable $e) {
                $this->failed($e, 'A listener', $event);
            }
        }
        if (++$this->handled % $this->memory->gcInterval === 0) {
            gc_collect_cycles();
        }
        return $event;
    }

    /** Counts the message for its connection and for each of the connection's topic filters it matches. */
    private function count(Message $message): void
    {
        $this->receivedBy[$message->broker] = ($this->receivedBy[$message->broker] ?? 0) + 1;
        foreach ($this->connectionTopics[$message->broker] ?? [] as $filter) {
            if (TopicFilter::matches($filter, $message->topic)) {
                $this->receivedByTopic[$message->broker][$filter] = ($this->receivedByTopic[$message->broker][$filter] ?? 0) + 1;
            }
        }
    }

    /**
     * Acknowledged like any message handled (a poison message must not come
     * back forever), logged, and dispatched as MqttMessageRejected.
     */
    private function reject(MqttMessageReceived $message, string $route, string $reason): void
    {
        $this->report('warning', sprintf('Rejected "%s" (connection %s, %s): %s', $message->topic, $message->broker, $route, $reason));
        try {
            $this->events->dispatch(new MqttMessageRejected($message->topic, $message->message, $message->broker, $reason, $route));
        } catch (\Throwable $e) {
            $this->failed($e, 'A listener of MqttMessageRejected', $message);
        }
    }

    /** Reported, and the loop goes on: one bad message must not stop the others. */
    private function failed(\Throwable $e, string $what, MqttMessageReceived $message): void
    {
        $this->listenerErrors++;
        $this->exceptions->report($e);
        $this->say('error', sprintf('%s failed on "%s" (connection %s): %s: %s', $what, $message->topic, $message->broker, $e::class, $e->getMessage()));
    }

    /**
     * The extension's connection events, as Laravel events; called from
     * loop(), so a paused daemon dispatches what happened once it continues
     * (each connection keeps its latest 256).
     */
    private function connectionEvent(Event $event): void
    {
        $dispatched = match ($event->type) {
            'connected' => new MqttConnected($event->broker, $event->at, $event->reason, $event->attempt, $event->sessionPresent),
            'disconnected' => new MqttConnectionLost($event->broker, $event->at, $event->reason, $event->attempt),
            'reconnecting' => new MqttReconnecting($event->broker, $event->at, $event->reason, $event->attempt),
            'failed' => new MqttConnectionFailed($event->broker, $event->at, $event->reason, $event->attempt),
            default => null,
        };
        if ($dispatched === null) {
            return;
        }
        try {
            $this->events->dispatch($dispatched);
        } catch (\Throwable $e) {
            $this->listenerErrors++;
            $this->exceptions->report($e);
            $this->say('error', sprintf('A listener of %s failed (connection %s): %s: %s', $dispatched::class, $event->broker, $e::class, $e->getMessage()));
        }
    }

    private function housekeeping(): void
    {
        $this->watchConnections();
        $this->log->flush();
        $this->checkMemory();
        if ($this->working) {
            $this->heartbeat();
        }
    }

    /**
     * The registry and the throughput counts only inform :status, the health
     * endpoint and the dashboard; a cache outage is reported, it does not stop the daemon.
     */
    private function heartbeat(): void
    {
        try {
            $this->registry->heartbeat($this->record());
            $this->countThroughput();
        } catch (\Throwable $e) {
            $this->exceptions->report($e);
        }
    }

    /**
     * Writes what was received and published in the current minute, when it
     * changed. What came between the last count of a minute and its end is
     * counted in the next one.
     */
    private function countThroughput(): void
    {
        $totals = [$this->handled, 0];
        foreach ($this->clients as $client) {
            $totals[1] += $client->status()['published'];
        }
        $minute = Throughput::minuteOf(microtime(true));
        if ($minute !== $this->minute) {
            $this->minute = $minute;
            $this->minuteStart = $this->lastTotals;
            $this->minuteWritten = null;
        }
        $this->lastTotals = $totals;
        $counts = [$totals[0] - $this->minuteStart[0], $totals[1] - $this->minuteStart[1]];
        if ($counts !== $this->minuteWritten) {
            $this->throughput->record($this->name, $this->minute, $counts[0], $counts[1]);
            $this->minuteWritten = $counts;
        }
    }

    private function watchConnections(): void
    {
        foreach ($this->connections as $connection) {
            $status = $this->clients[$connection->name]->status();
            $previous = $this->states[$connection->name] ?? null;
            if ($status['state'] !== $previous) {
                $this->states[$connection->name] = $status['state'];
                $this->report(
                    match ($status['state']) {
                        'connected', 'connecting' => 'info',
                        'reconnecting' => 'warning',
                        default => 'error',
                    },
                    sprintf(
                        'Connection %s (%s): %s -> %s%s',
                        $connection->name,
                        $connection->address(),
                        $previous ?? 'new',
                        $status['state'],
                        $status['state'] !== 'connected' && $status['last_error'] !== null ? " ({$status['last_error']})" : ''
                    )
                );
            }
            $this->watchFailureDuration($connection, $status['state']);
            // Only reachable with terminate_on_max_retries: otherwise the extension retries forever.
            if ($status['state'] === 'failed' && $this->working) {
                // loop() hands over events at the start of each wait: one more pass
                // delivers the MqttConnectionFailed that came during the last one.
                $this->subscriber->loop($this->handler, timeout: 0.0, limit: 1);
                $this->report('error', sprintf(
                    'Connection %s failed for good after %d attempts (terminate_on_max_retries): stopping with exit code %d for the process manager to restart the daemon.',
                    $connection->name,
                    $connection->maxRetries,
                    self::EXIT_CONNECTION_FAILED
                ));
                $this->stop(self::EXIT_CONNECTION_FAILED);
            }
        }
    }

    /**
     * max_failure_duration: a connection that has not been connected for that
     * long stops the daemon (exit code 3) for the process manager to start it
     * afresh, as the pure-PHP package's supervisor gave up on it.
     */
    private function watchFailureDuration(ConnectionConfig $connection, string $state): void
    {
        if ($state === 'connected') {
            unset($this->failingSince[$connection->name]);
            return;
        }
        $since = $this->failingSince[$connection->name] ??= microtime(true);
        if ($connection->maxFailureDuration !== null && microtime(true) - $since >= $connection->maxFailureDuration && $this->working) {
            $this->report('error', sprintf(
                'Connection %s has not been connected for %.0f s (max_failure_duration %s s): stopping with exit code %d for the process manager to restart the daemon.',
                $connection->name,
                microtime(true) - $since,
                $connection->maxFailureDuration,
                self::EXIT_CONNECTION_FAILED
            ));
            $this->stop(self::EXIT_CONNECTION_FAILED);
        }
    }

    private function checkMemory(): void
    {
        $megabytes = memory_get_usage(true) / 1048576;
        if ($megabytes < $this->memory->thresholdMb) {
            $this->overMemory = false;
            return;
        }
        if ($this->memory->autoRestart) {
            $this->report('warning', sprintf(
                'Memory use %.1f MB is above memory.threshold_mb (%d MB): stopping with exit code %d for the process manager to restart the daemon.',
                $megabytes,
                $this->memory->thresholdMb,
                self::EXIT_MEMORY
            ));
            $this->stop(self::EXIT_MEMORY);
        } elseif (!$this->overMemory) {
            $this->overMemory = true;
            $this->report('warning', sprintf(
                'Memory use %.1f MB is above memory.threshold_mb (%d MB); memory.auto_restart is off.',
                $megabytes,
                $this->memory->thresholdMb
            ));
        }
    }

    /**
     * Stops receiving first: the subscriber goes (with a clean session its
     * filters are unsubscribed; a persistent session keeps them, and the broker
     * keeps the messages for the next start), and a QoS 1/2 message received
     * but not handled was never acknowledged, so the broker delivers it again.
     * Then the log batch is written and the connections are closed, which
     * flushes what the listeners published.
     */
    private function shutdown(): void
    {
        $this->say('info', sprintf('Stopping after %d message(s): no more messages are taken; closing connections (pending publishes are flushed).', $this->handled));
        $this->subscriber = null;
        try {
            $this->registry->forget($this->name);
            $this->countThroughput();
        } catch (\Throwable $e) {
            $this->exceptions->report($e);
        }
        $this->log->flush();
        foreach ($this->clients as $name => $client) {
            $client->close();
            $status = $client->status();
            if ($status['queued'] + $status['in_flight'] > 0) {
                $this->report('warning', sprintf(
                    'Connection %s closed with %d published message(s) the broker did not acknowledge%s.',
                    $name,
                    $status['queued'] + $status['in_flight'],
                    $status['last_error'] !== null ? " (last error: {$status['last_error']})" : ''
                ));
            }
        }
        $this->clients = [];
        if ($this->exitCode === self::EXIT_MEMORY && $this->memory->restartDelaySeconds > 0) {
            $this->restartDelay();
        }
        $this->say('info', "Stopped (exit code {$this->exitCode}).");
    }

    /**
     * Waits memory.restart_delay_seconds before the exit that makes a process
     * manager restart us, so a daemon over the threshold from its start cannot
     * spin in a restart loop. A signal ends the wait, and the exit is then the
     * ordinary 0 of a stop.
     */
    private function restartDelay(): void
    {
        $this->working = true;
        $this->say('info', sprintf('Waiting %.1f s (memory.restart_delay_seconds) before exiting.', $this->memory->restartDelaySeconds));
        $deadline = microtime(true) + $this->memory->restartDelaySeconds;
        while ($this->working && microtime(true) < $deadline) {
            usleep(50_000);
        }
        $this->working = false;
    }

    /** @return array<string, mixed> this daemon as DaemonRegistry keeps it */
    private function record(): array
    {
        $connections = [];
        foreach ($this->connections as $connection) {
            $status = $this->clients[$connection->name]->status();
            $connections[$connection->name] = [
                'state' => $status['state'],
                'address' => $connection->address(),
                'client_id' => $status['client_id'],
                'topics' => array_map(static fn (string $t) => $connection->prefix . $t, $connection->topics),
                'received_by_topic' => $this->topicCounts($connection),
                'connected_since' => $status['connected_since'],
                'reconnects' => $status['reconnects'],
                'received' => $this->receivedBy[$connection->name] ?? 0,
                'published' => $status['published'],
                'acknowledged' => $status['acknowledged'],
                'queued' => $status['queued'],
                'in_flight' => $status['in_flight'],
                'last_error' => $status['last_error'],
            ];
        }
        return [
            'name' => $this->name,
            'host' => gethostname(),
            'pid' => getmypid(),
            'environment' => $this->environment,
            'status' => $this->paused ? 'paused' : 'running',
            'started_at' => $this->startedAt,
            'handled' => $this->handled,
            'listener_errors' => $this->listenerErrors,
            'memory_mb' => round(memory_get_usage(true) / 1048576, 1),
            'memory_threshold_mb' => $this->memory->thresholdMb,
            'connections' => $connections,
            'routes' => $this->routeCounts(),
        ];
    }

    /** @return array<string, int> messages each topic filter of the connection matched, by filter with the prefix */
    private function topicCounts(ConnectionConfig $connection): array
    {
        $counts = [];
        foreach ($connection->topics as $filter) {
            $counts[$connection->prefix . $filter] = $this->receivedByTopic[$connection->name][$filter] ?? 0;
        }
        return $counts;
    }

    /**
     * The routes of routes/mqtt.php and their messages (rejected ones
     * included), then the fallbacks and the messages that matched no route.
     *
     * @return list<array{pattern: string, connection: ?string, fallback: bool, received: int, rejected: int}>
     */
    private function routeCounts(): array
    {
        $routes = [];
        foreach ($this->router->routes() as $route) {
            $counts = $this->receivedByRoute[spl_object_id($route)] ?? ['received' => 0, 'rejected' => 0];
            $routes[] = ['pattern' => $route->pattern, 'connection' => $route->connection, 'fallback' => false, ...$counts];
        }
        foreach ($this->router->fallbacks() as $fallback) {
            $unmatched = 0;
            foreach ($this->connectionsOf($fallback['connection']) as $connection) {
                $unmatched += $this->receivedByFallback[$connection->name][$fallback['filter']] ?? 0;
            }
            $routes[] = ['pattern' => $fallback['filter'], 'connection' => $fallback['connection'], 'fallback' => true, 'received' => $unmatched, 'rejected' => $unmatched];
        }
        return $routes;
    }

    /** A line for the console only. */
    private function say(string $level, string $line): void
    {
        ($this->output)($level, $line);
    }

    /** A line for the console and the application log. */
    private function report(string $level, string $line): void
    {
        $this->say($level, $line);
        $this->logger->log($level, $line, ['mqtt-broadcast daemon' => $this->name]);
    }
}
