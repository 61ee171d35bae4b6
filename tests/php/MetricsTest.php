<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\FpmPool;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * Mqtt\Client::metrics() across a real PHP-FPM pool of 4 workers, requests
 * publishing on two connection names to a real mosquitto: whichever worker
 * answers, the counters are the totals of every request of the pool, also
 * after a worker was SIGKILLed; the gauges count the workers alive. The text
 * is read by Prometheus' own parser (python3-prometheus-client).
 */
final class MetricsTest extends MqttTestCase
{
    private const WORKERS = 4;

    private ?FpmPool $pool = null;

    protected function tearDown(): void
    {
        $this->pool?->kill();
        $this->pool = null;
        parent::tearDown();
    }

    public function testEveryWorkerReportsThePoolsTotalsAlsoAfterOneIsKilled(): void
    {
        $this->pool = FpmPool::start(['children' => self::WORKERS]);
        $topic = $this->topic('metrics');
        $options = $this->options();
        unset($options['client_id']);
        $published = ['orders' => [0, 0, 0], 'events' => [0, 0, 0]];
        $bytes = ['orders' => 0, 'events' => 0];
        $publishers = [];
        // Rounds of concurrent requests held a moment, so that every worker serves some.
        for ($round = 0; $round < 4; $round++) {
            $batch = [];
            foreach (range(1, self::WORKERS) as $i) {
                $name = $i % 2 === 0 ? 'orders' : 'events';
                $qos = ($round + $i) % 3;
                $count = $i + $round;
                $published[$name][$qos] += $count;
                // publish.php sends "m", or "m-0", "m-1"... for several.
                $bytes[$name] += $count === 1 ? 1 : array_sum(array_map(fn (int $n) => 2 + strlen((string) $n), range(0, $count - 1)));
                $batch[] = ['publish.php', [
                    'options' => json_encode($options), 'name' => $name, 'topic' => $topic, 'payload' => 'm',
                    'qos' => $qos, 'count' => $count, 'mode' => 'sync', 'hold_ms' => 150,
                ]];
            }
            foreach ($this->pool->requests($batch) as $body) {
                $publishers[] = json_decode($body, true, 512, JSON_THROW_ON_ERROR)['pid'];
            }
        }
        $publishers = array_values(array_unique($publishers));
        sort($publishers);
        $this->assertGreaterThan(1, count($publishers), 'several workers published');

        $readings = $this->readFromEveryWorker();
        foreach ($readings as $pid => $text) {
            $metrics = self::parse($text);
            $this->assertSame($metrics, self::parseWithPrometheus($text), "Prometheus' parser reads the same from worker $pid");
            foreach ($published as $name => $byQos) {
                foreach ($byQos as $qos => $count) {
                    $this->assertSame($count, $metrics["mqtt_broadcast_published_total{connection=\"$name\",qos=\"$qos\"}"], "worker $pid: $name QoS $qos");
                }
                $this->assertSame($byQos[1] + $byQos[2], $metrics["mqtt_broadcast_acknowledged_total{connection=\"$name\"}"], "worker $pid: $name acknowledged");
                $this->assertSame($bytes[$name], $metrics["mqtt_broadcast_sent_payload_bytes_total{connection=\"$name\"}"], "worker $pid: $name payload bytes");
                $this->assertSame(0, $metrics["mqtt_broadcast_queued_messages{connection=\"$name\"}"]);
                $this->assertSame(0, $metrics["mqtt_broadcast_in_flight_messages{connection=\"$name\"}"]);
            }
            $this->assertSame(count($publishers), $metrics['mqtt_broadcast_workers_alive'], "worker $pid: the workers that opened a connection");
            $up = $metrics['mqtt_broadcast_connections_up{connection="orders"}'] + $metrics['mqtt_broadcast_connections_up{connection="events"}'];
            $this->assertGreaterThanOrEqual(count($publishers), $up);
            $this->assertSame(1, $metrics['mqtt_broadcast_build_info{version="0.1.0"}']);
        }
        $before = self::parse(reset($readings));

        $killed = $publishers[0];
        posix_kill($killed, SIGKILL);
        $this->pool->waitForWorkersOtherThan([$killed]);
        foreach ($this->readFromEveryWorker() as $pid => $text) {
            $after = self::parse($text);
            foreach (array_keys($published) as $name) {
                foreach ([0, 1, 2] as $qos) {
                    $key = "mqtt_broadcast_published_total{connection=\"$name\",qos=\"$qos\"}";
                    $this->assertSame($before[$key], $after[$key], "worker $pid: the killed worker's messages stay counted");
                }
            }
            $this->assertSame(count($publishers) - 1, $after['mqtt_broadcast_workers_alive'], "worker $pid: the killed worker no longer counts");
            $upBefore = $before['mqtt_broadcast_connections_up{connection="orders"}'] + $before['mqtt_broadcast_connections_up{connection="events"}'];
            $upAfter = $after['mqtt_broadcast_connections_up{connection="orders"}'] + $after['mqtt_broadcast_connections_up{connection="events"}'];
            $this->assertLessThan($upBefore, $upAfter, "worker $pid: the killed worker's connections are not up");
        }
    }

    /** @return array<int, string> the metrics text by the pid of the worker that answered */
    private function readFromEveryWorker(): array
    {
        $readings = [];
        for ($round = 0; $round < 10 && count($readings) < self::WORKERS; $round++) {
            $batch = array_fill(0, self::WORKERS, ['metrics.php', ['hold_ms' => 200]]);
            foreach ($this->pool->requests($batch) as $body) {
                [$pid, $text] = explode("\n", $body, 2);
                $readings[(int) $pid] = $text;
            }
        }
        $this->assertCount(self::WORKERS, $readings, 'every worker answered');
        return $readings;
    }

    /** @return array<string, int> value by series ("name{labels}"), without comments */
    private static function parse(string $text): array
    {
        $series = [];
        foreach (explode("\n", trim($text)) as $line) {
            if ($line === '' || $line[0] === '#') {
                continue;
            }
            [$key, $value] = explode(' ', $line);
            $series[$key] = (int) $value;
        }
        ksort($series);
        return $series;
    }

    /** The same as parse(), by prometheus_client's text parser. */
    private static function parseWithPrometheus(string $text): array
    {
        $script = <<<'PY'
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            series = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for sample in family.samples:
                    labels = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in sample.labels.items())
                    series[sample.name + ("{" + labels + "}" if labels else "")] = int(sample.value)
            print(json.dumps(series))
            PY;
        // Debian's python3, where python3-prometheus-client (./build.sh deps) installs it.
        $process = proc_open(['/usr/bin/python3', '-c', $script], [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        fwrite($pipes[0], $text);
        fclose($pipes[0]);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $code = proc_close($process);
        if ($code !== 0) {
            self::fail("prometheus_client could not parse the metrics (exit $code): $err\n$text");
        }
        $series = json_decode((string) $out, true, 512, JSON_THROW_ON_ERROR);
        ksort($series);
        return $series;
    }
}
