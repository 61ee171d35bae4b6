<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http\Controllers;

use Illuminate\Http\JsonResponse;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Http\PoolMetrics;

/**
 * The pure-PHP package's health endpoint, for load balancers and probes:
 * 200 and "healthy" while a daemon runs with all its connections connected,
 * 503 and "unhealthy" otherwise. It reads the daemons' heartbeats, as
 * mqtt-broadcast:status does: which daemons are alive, when each last said
 * so, and the state and last error of each of their connections.
 */
class HealthController
{
    public function __invoke(DaemonRegistry $registry): JsonResponse
    {
        $now = microtime(true);
        $daemons = $registry->all();
        $alive = [];
        $connections = [];
        foreach ($daemons as $daemon) {
            $alive[] = [
                'name' => $daemon['name'],
                'host' => $daemon['host'],
                'pid' => $daemon['pid'],
                'status' => $daemon['status'],
                'started_at' => self::iso($daemon['started_at']),
                'heartbeat_at' => self::iso($daemon['heartbeat_at']),
                'heartbeat_seconds_ago' => round(max(0.0, $now - $daemon['heartbeat_at']), 1),
            ];
            foreach ($daemon['connections'] as $name => $connection) {
                $connections[] = [
                    'daemon' => $daemon['name'],
                    'connection' => $name,
                    'state' => $connection['state'],
                    'connected_since' => isset($connection['connected_since']) ? self::iso($connection['connected_since']) : null,
                    'reconnects' => $connection['reconnects'],
                    'last_error' => $connection['last_error'],
                ];
            }
        }
        $pool = PoolMetrics::read();
        $connected = count(array_filter($connections, static fn (array $c) => $c['state'] === 'connected'));
        $paused = count(array_filter($daemons, static fn (array $d) => ($d['status'] ?? 'running') === 'paused'));
        $healthy = $daemons !== [] && $connected === count($connections) && $paused === 0;

        return new JsonResponse([
            'status' => $healthy ? 'healthy' : 'unhealthy',
            'timestamp' => now()->toIso8601String(),
            'data' => [
                'daemons' => ['total' => count($daemons), 'paused' => $paused, 'alive' => $alive],
                'connections' => $connections,
                // This PHP-FPM pool's processes (or this process), from the extension's shared counters.
                'pool' => $pool === null ? null : [
                    'workers_alive' => $pool->workersAlive,
                    'connections_up' => array_map(static fn (array $figures) => $figures['connections_up'], $pool->connections),
                ],
            ],
            'checks' => [
                'daemon_running' => [
                    'status' => $daemons !== [] ? 'pass' : 'fail',
                    'message' => sprintf('%d daemon(s) sent a heartbeat in the last %d seconds', count($daemons), DaemonRegistry::TTL),
                ],
                'connections_connected' => [
                    'status' => $connected === count($connections) ? 'pass' : 'fail',
                    'message' => sprintf('%d of %d connection(s) connected', $connected, count($connections)),
                ],
                'not_paused' => [
                    'status' => $paused === 0 ? 'pass' : 'fail',
                    'message' => sprintf('%d daemon(s) paused', $paused),
                ],
            ],
        ], $healthy ? 200 : 503);
    }

    private static function iso(float $time): string
    {
        return \DateTimeImmutable::createFromFormat('U.u', sprintf('%.6F', $time))->format('Y-m-d\\TH:i:s.vP');
    }
}
