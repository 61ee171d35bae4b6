<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http;

use Illuminate\Contracts\Foundation\Application;
use MqttBroadcast\Laravel\Connections;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Daemon\Throughput;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\Models\MqttLogger;
use MqttBroadcast\Laravel\Queue\MqttQueueConfig;
use MqttBroadcast\Laravel\Queue\Retained;

/**
 * What the dashboard shows, as its JSON API returns it: the daemons from
 * their heartbeats, the pool's connections from the extension's shared
 * counters, the throughput of the last hour, the messages per route and
 * topic filter, the failed-publish store, the latest messages of the
 * message log and the mqtt queue connections.
 * A part that cannot be read (a table not migrated, a broker away) says why
 * in its "error" and the other parts are still shown.
 */
final class DashboardStats
{
    /** Failed publishes listed; the total counts them all. */
    public const FAILED_LISTED = 50;
    /** Latest messages of the message log listed. */
    public const MESSAGES_LISTED = 10;

    public function __construct(
        private readonly Application $app,
        private readonly DaemonRegistry $registry,
        private readonly Throughput $throughput,
    ) {
    }

    /** @return array<string, mixed> */
    public function collect(): array
    {
        $now = microtime(true);
        $daemons = array_values(array_map(static fn (array $daemon) => self::daemon($daemon, $now), $this->registry->all()));
        $hour = $this->throughput->lastHour($now);
        $pool = PoolMetrics::read();
        return [
            'now' => $now,
            'environment' => $this->app->environment(),
            'daemons' => $daemons,
            'pool' => $pool === null ? null : ['workers_alive' => $pool->workersAlive, 'connections' => $pool->connections],
            'throughput' => [
                'minutes' => $hour,
                'received_last_hour' => array_sum(array_column($hour, 'received')),
                'published_last_hour' => array_sum(array_column($hour, 'published')),
                'received_this_minute' => $hour[count($hour) - 1]['received'],
            ],
            'received' => self::received($daemons),
            'outbox' => self::outbox($daemons, $pool),
            'failed' => $this->failed(),
            'messages' => $this->messages(),
            'queues' => $this->queues(),
        ];
    }

    /**
     * @param array<string, mixed> $daemon as DaemonRegistry keeps it
     * @return array<string, mixed>
     */
    private static function daemon(array $daemon, float $now): array
    {
        return [
            'name' => $daemon['name'],
            'host' => $daemon['host'],
            'pid' => $daemon['pid'],
            'environment' => $daemon['environment'],
            'status' => $daemon['status'],
            'uptime_seconds' => max(0, (int) ($now - $daemon['started_at'])),
            'heartbeat_seconds_ago' => round(max(0.0, $now - $daemon['heartbeat_at']), 1),
            'handled' => $daemon['handled'],
            'listener_errors' => $daemon['listener_errors'],
            'memory_mb' => $daemon['memory_mb'],
            'memory_threshold_mb' => $daemon['memory_threshold_mb'] ?? null,
            'connections' => $daemon['connections'],
            'routes' => $daemon['routes'] ?? [],
        ];
    }

    /**
     * Messages per route and per topic filter, summed over the daemons.
     *
     * @param list<array<string, mixed>> $daemons
     * @return array{routes: list<array<string, mixed>>, topics: list<array<string, mixed>>}
     */
    private static function received(array $daemons): array
    {
        $routes = [];
        $topics = [];
        foreach ($daemons as $daemon) {
            foreach ($daemon['routes'] as $route) {
                $key = ($route['fallback'] ? 'fallback ' : '') . $route['pattern'] . ' ' . $route['connection'];
                $routes[$key] ??= [...$route, 'received' => 0, 'rejected' => 0];
                $routes[$key]['received'] += $route['received'];
                $routes[$key]['rejected'] += $route['rejected'];
            }
            foreach ($daemon['connections'] as $name => $connection) {
                foreach ($connection['received_by_topic'] ?? [] as $filter => $count) {
                    $topics["$name $filter"] ??= ['connection' => $name, 'filter' => (string) $filter, 'received' => 0];
                    $topics["$name $filter"]['received'] += $count;
                }
            }
        }
        return ['routes' => array_values($routes), 'topics' => array_values($topics)];
    }

    /**
     * Messages accepted and not yet written (queued), and written and not yet
     * acknowledged (in flight): in the pool's processes and in the daemons.
     *
     * @param list<array<string, mixed>> $daemons
     * @return array{queued: int, in_flight: int}
     */
    private static function outbox(array $daemons, ?PoolMetrics $pool): array
    {
        $queued = $inFlight = 0;
        foreach ($pool?->connections ?? [] as $connection) {
            $queued += $connection['queued_messages'];
            $inFlight += $connection['in_flight_messages'];
        }
        foreach ($daemons as $daemon) {
            foreach ($daemon['connections'] as $connection) {
                $queued += $connection['queued'];
                $inFlight += $connection['in_flight'];
            }
        }
        return ['queued' => $queued, 'in_flight' => $inFlight];
    }

    /** @return array<string, mixed> */
    private function failed(): array
    {
        try {
            $query = FailedMqttJob::query();
            return [
                'total' => (clone $query)->count(),
                'jobs' => $query->orderByDesc('failed_at')->orderByDesc('id')->limit(self::FAILED_LISTED)->get()
                    ->map(static fn (FailedMqttJob $job) => [
                        'id' => $job->external_id,
                        'connection' => $job->broker,
                        'topic' => $job->topic,
                        'qos' => $job->qos,
                        'failed_at' => $job->failed_at?->toIso8601String(),
                        'retries' => $job->retry_count,
                        'exception' => mb_strimwidth(strtok((string) $job->exception, "\n") ?: '', 0, 300, '...'),
                    ])->all(),
                'error' => null,
            ];
        } catch (\Throwable $e) {
            return ['total' => null, 'jobs' => [], 'error' => 'The failed-publish store cannot be read (has `php artisan migrate` run?): ' . $e->getMessage()];
        }
    }

    /**
     * The latest messages of the message log, where logs.enable is on; the
     * column as it is (a payload that is not UTF-8 as "base64:..."), shortened.
     *
     * @return array<string, mixed>
     */
    private function messages(): array
    {
        if (!$this->app->make(MqttBroadcastConfig::class)->logs->enabled) {
            return ['enabled' => false, 'latest' => [], 'error' => null];
        }
        try {
            $latest = MqttLogger::query()->orderByDesc('id')->limit(self::MESSAGES_LISTED)->get()
                ->map(static fn (MqttLogger $log) => [
                    'connection' => $log->broker,
                    'topic' => $log->topic,
                    'message' => mb_strimwidth((string) $log->getRawOriginal('message'), 0, 200, '...'),
                    'at' => $log->created_at?->toIso8601String(),
                ])->all();
            return ['enabled' => true, 'latest' => $latest, 'error' => null];
        } catch (\Throwable $e) {
            return ['enabled' => true, 'latest' => [], 'error' => 'The message log cannot be read (has `php artisan migrate` run?): ' . $e->getMessage()];
        }
    }

    /**
     * The queue connections of config/queue.php that use the mqtt driver, with
     * the state each worker announced last (retained on the broker): online,
     * or offline and why. Laravel's failed jobs of the connection where the
     * failer can count them (Laravel 10 and later).
     *
     * @return list<array<string, mixed>>
     */
    private function queues(): array
    {
        $queues = [];
        foreach ((array) $this->app['config']->get('queue.connections') as $name => $config) {
            if (!is_array($config) || ($config['driver'] ?? null) !== 'mqtt') {
                continue;
            }
            $queue = ['name' => (string) $name, 'connection' => null, 'group' => null, 'workers' => [], 'failed_jobs' => null, 'error' => null];
            try {
                $settings = MqttQueueConfig::fromArray($config, "queue.connections.$name");
                $queue['connection'] = $settings->connection;
                $queue['group'] = $settings->group;
                $queue['workers'] = $this->workers($settings);
            } catch (\Throwable $e) {
                $queue['error'] = $e->getMessage();
            }
            // Laravel 10 and later count failed jobs in the database: without one, the
            // workers are still shown.
            try {
                $queue['failed_jobs'] = $this->failedJobs((string) $name);
            } catch (\Throwable $e) {
                $queue['error'] ??= 'The failed jobs cannot be counted (has `php artisan migrate` run?): ' . $e->getMessage();
            }
            $queues[] = $queue;
        }
        return $queues;
    }

    /** @return list<array<string, mixed>> */
    private function workers(MqttQueueConfig $settings): array
    {
        $prefix = $settings->topicPrefix . '~consumers/' . $settings->group . '/';
        $states = Retained::readAll($this->app->make(Connections::class)->get($settings->connection), $prefix . '+/+', $prefix . '~probe/~probe');
        $workers = [];
        foreach ($states as $topic => $payload) {
            $state = json_decode($payload, true);
            // A queue's anchor keeps jobs while no worker is there; it is no worker.
            if (!is_array($state) || ($state['reason'] ?? null) === 'anchor') {
                continue;
            }
            [$queue, $consumer] = array_slice(explode('/', $topic), -2);
            $workers[] = [
                'queue' => $queue,
                'consumer' => $consumer,
                'state' => (string) ($state['state'] ?? 'unknown'),
                'reason' => $state['reason'] ?? null,
                'host' => $state['host'] ?? null,
                'pid' => $state['pid'] ?? null,
                'at' => $state['at'] ?? null,
            ];
        }
        usort($workers, static fn (array $a, array $b) => [$a['queue'], $a['consumer']] <=> [$b['queue'], $b['consumer']]);
        return $workers;
    }

    private function failedJobs(string $connection): ?int
    {
        if (!$this->app->bound('queue.failer')) {
            return null;
        }
        $failer = $this->app->make('queue.failer');
        return method_exists($failer, 'count') ? (int) $failer->count($connection) : null;
    }
}
