<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http\Controllers;

use Illuminate\Http\JsonResponse;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;

/**
 * The pure-PHP package's health endpoint, for load balancers and probes:
 * 200 and "healthy" while a daemon runs with all its connections connected,
 * 503 and "unhealthy" otherwise. It reads the daemons' heartbeats, as
 * mqtt-broadcast:status does.
 */
class HealthController
{
    public function __invoke(DaemonRegistry $registry): JsonResponse
    {
        $daemons = $registry->all();
        $connections = [];
        foreach ($daemons as $daemon) {
            foreach ($daemon['connections'] as $name => $connection) {
                $connections[] = ['daemon' => $daemon['name'], 'connection' => $name, 'state' => $connection['state']];
            }
        }
        $connected = count(array_filter($connections, static fn (array $c) => $c['state'] === 'connected'));
        $paused = count(array_filter($daemons, static fn (array $d) => ($d['status'] ?? 'running') === 'paused'));
        $healthy = $daemons !== [] && $connected === count($connections) && $paused === 0;

        return new JsonResponse([
            'status' => $healthy ? 'healthy' : 'unhealthy',
            'timestamp' => now()->toIso8601String(),
            'data' => [
                'daemons' => ['total' => count($daemons), 'paused' => $paused],
                'connections' => $connections,
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
}
