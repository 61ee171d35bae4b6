<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http;

use Mqtt\Client;

/**
 * The figures of Mqtt\Client::metrics() per connection name: the counters
 * and gauges of every process of this PHP-FPM pool (or of this process and
 * its children, in the CLI), read from the Prometheus text the extension writes.
 */
final class PoolMetrics
{
    /** Gauges and counters per connection, by their name without the prefix and "_total". */
    private const FIGURES = [
        'published', 'acknowledged', 'refused', 'received', 'reconnects', 'connections_up',
        'queued_messages', 'queued_messages_max', 'in_flight_messages', 'in_flight_messages_max',
        'sent_payload_bytes', 'received_payload_bytes',
    ];

    /**
     * @param array<string, array<string, int>> $connections figures by connection name, then figure
     */
    private function __construct(public readonly int $workersAlive, public readonly array $connections)
    {
    }

    /** null where the extension is not loaded. */
    public static function read(): ?self
    {
        return method_exists(Client::class, 'metrics') ? self::parse(Client::metrics()) : null;
    }

    public static function parse(string $text): self
    {
        $workers = 0;
        $connections = [];
        preg_match_all('/^mqtt_broadcast_(\w+?)(?:_total)?(?:\{([^}]*)\})? (\S+)$/m', $text, $samples, PREG_SET_ORDER);
        foreach ($samples as [, $name, $labels, $value]) {
            if ($name === 'workers_alive') {
                $workers = (int) $value;
                continue;
            }
            if (!in_array($name, self::FIGURES, true) || !preg_match('/connection="((?:[^"\\\\]|\\\\.)*)"/', $labels, $connection)) {
                continue;
            }
            $connection = stripcslashes($connection[1]);
            $connections[$connection] ??= array_fill_keys(self::FIGURES, 0);
            // published_total comes once per QoS.
            $connections[$connection][$name] += (int) $value;
        }
        ksort($connections);
        return new self($workers, $connections);
    }
}
