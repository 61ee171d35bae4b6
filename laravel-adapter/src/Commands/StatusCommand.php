<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;

class StatusCommand extends Command
{
    use WritesComponents;

    public const EXIT_RUNNING = 0;
    public const EXIT_NOT_RUNNING = 2;

    protected $signature = 'mqtt-broadcast:status';

    protected $description = 'List the running mqtt-broadcast daemons and the state of their connections (exit code 0: running, 2: not running)';

    public function handle(DaemonRegistry $registry): int
    {
        $daemons = $registry->all();
        if ($daemons === []) {
            $this->status('error', sprintf('mqtt-broadcast is not running: no daemon sent a heartbeat in the last %d seconds.', DaemonRegistry::TTL));
            return self::EXIT_NOT_RUNNING;
        }

        $this->status('info', sprintf('mqtt-broadcast is running: %d daemon(s).', count($daemons)));
        $now = microtime(true);
        $this->table(
            ['Daemon', 'Host', 'PID', 'Environment', 'Status', 'Up', 'Heartbeat', 'Messages', 'Listener errors', 'Memory'],
            array_map(static fn (array $d) => [
                $d['name'],
                $d['host'],
                $d['pid'],
                $d['environment'],
                $d['status'],
                self::duration($now - $d['started_at']),
                sprintf('%.0f s ago', max(0, $now - $d['heartbeat_at'])),
                $d['handled'],
                $d['listener_errors'],
                $d['memory_mb'] . ' MB',
            ], array_values($daemons))
        );

        $rows = [];
        foreach ($daemons as $daemon) {
            foreach ($daemon['connections'] as $name => $connection) {
                $rows[] = [
                    $daemon['name'],
                    $name,
                    $connection['state'],
                    $connection['address'],
                    $connection['client_id'],
                    implode(', ', $connection['topics']),
                    $connection['reconnects'],
                    $connection['last_error'] ?? '',
                ];
            }
        }
        $this->table(['Daemon', 'Connection', 'State', 'Broker', 'Client id', 'Topics', 'Reconnects', 'Last error'], $rows);
        return self::EXIT_RUNNING;
    }

    private static function duration(float $seconds): string
    {
        $seconds = (int) $seconds;
        return match (true) {
            $seconds < 120 => "$seconds s",
            $seconds < 7200 => intdiv($seconds, 60) . ' min',
            $seconds < 172800 => intdiv($seconds, 3600) . ' h',
            default => intdiv($seconds, 86400) . ' d',
        };
    }
}
