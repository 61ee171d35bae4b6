<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Unit;

use MqttBroadcast\Laravel\Http\PoolMetrics;
use PHPUnit\Framework\TestCase;

/** The figures the dashboard and the health endpoint read from Mqtt\Client::metrics(). */
final class PoolMetricsTest extends TestCase
{
    public function test_per_connection_figures_from_the_prometheus_text(): void
    {
        $metrics = PoolMetrics::parse(<<<'TEXT'
            # HELP mqtt_broadcast_build_info Which build of the extension answers.
            # TYPE mqtt_broadcast_build_info gauge
            mqtt_broadcast_build_info{version="0.1.0"} 1
            mqtt_broadcast_workers_alive 4
            mqtt_broadcast_published_total{connection="default",qos="0"} 10
            mqtt_broadcast_published_total{connection="default",qos="1"} 32
            mqtt_broadcast_acknowledged_total{connection="default"} 30
            mqtt_broadcast_connections_up{connection="default"} 4
            mqtt_broadcast_queued_messages{connection="default"} 2
            mqtt_broadcast_queued_messages_max{connection="default"} 1
            mqtt_broadcast_received_total{connection="say \"hi\""} 5
            TEXT);

        self::assertSame(4, $metrics->workersAlive);
        self::assertSame(['default', 'say "hi"'], array_keys($metrics->connections));
        self::assertSame(
            ['published' => 42, 'acknowledged' => 30, 'received' => 0, 'connections_up' => 4, 'queued_messages' => 2, 'queued_messages_max' => 1],
            array_intersect_key($metrics->connections['default'], ['published' => 0, 'acknowledged' => 0, 'connections_up' => 0, 'queued_messages' => 0, 'queued_messages_max' => 0, 'received' => 0]),
        );
        self::assertSame(5, $metrics->connections['say "hi"']['received']);
    }
}
