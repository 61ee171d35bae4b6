<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\ApacheServer;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\FpmPool;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * A thread-safe PHP in a threaded server (ApacheServer): Apache's worker and event
 * MPMs with mod_php, where one process serves requests from many threads at once,
 * as FrankenPHP does too. The threads of a process share its connections: one
 * runtime thread, one broker connection per name, counters that add up across
 * threads, every message delivered once, and a stop that flushes what they queued.
 *
 * Runs only under a ZTS PHP with its Apache module (./build.sh test-zts), a PHP
 * built without Zend signals: with them, the graceful stop loses what is queued
 * (tests/matrix/zts.sh says why).
 */
final class ZtsTest extends MqttTestCase
{
    private const THREADS = 8;

    private ?ApacheServer $server = null;

    protected function setUp(): void
    {
        $reason = ApacheServer::unavailable();
        if ($reason !== null) {
            $this->markTestSkipped($reason);
        }
    }

    protected function tearDown(): void
    {
        $this->server?->kill();
        $this->server = null;
        parent::tearDown();
    }

    public static function mpms(): array
    {
        return ['worker MPM' => ['worker'], 'event MPM' => ['event']];
    }

    /** @dataProvider mpms */
    public function testTheThreadsOfAProcessShareItsConnection(string $mpm): void
    {
        $broker = $this->broker();
        $topic = $this->topic('shared');
        $listener = $this->listen($topic);
        $server = $this->server = ApacheServer::start(self::THREADS, $mpm);
        [$child] = $server->childPids();
        $this->assertNotContains('mqtt-broadcast', FpmPool::threadNames($child), 'no runtime thread before the first request');

        // Rounds of requests that each hold their thread a moment, so that they run side by side.
        $sent = [];
        $responses = [];
        for ($round = 0; $round < 3; $round++) {
            $batch = [];
            for ($i = 0; $i < self::THREADS; $i++) {
                $sent[] = $payload = "r$round-$i";
                $batch[] = ['publish.php', $this->query($broker, $topic, $payload, ['mode' => 'sync', 'hold_ms' => 300])];
            }
            foreach ($server->requests($batch) as $body) {
                $responses[] = json_decode($body, true, 16, JSON_THROW_ON_ERROR);
            }
        }

        $this->assertSame([$child], array_values(array_unique(array_column($responses, 'pid'))), 'one process served every request');
        $threads = array_unique(array_column($responses, 'thread'));
        $this->assertGreaterThan(1, count($threads), 'several threads served the requests: ' . json_encode($threads));
        $clientIds = array_unique(array_column(array_column($responses, 'status'), 'client_id'));
        $this->assertCount(1, $clientIds, 'every thread used the same connection: ' . json_encode($clientIds));
        $this->assertMatchesRegularExpression("/^mqttb-$child-/", reset($clientIds));
        $this->assertSame([reset($clientIds)], $this->connectionsFrom($broker, $child), "the broker saw one connection from the process:\n" . $broker->log());
        $this->assertSame(
            1,
            count(array_keys(FpmPool::threadNames($child), 'mqtt-broadcast')),
            'one runtime thread for the whole process: ' . json_encode(FpmPool::threadNames($child))
        );

        // One publishSync per request, all on one connection: whichever thread served
        // it, the k-th request to read status() saw at least k acknowledgements, and a
        // request after them all sees every one.
        $acknowledged = array_column(array_column($responses, 'status'), 'acknowledged');
        sort($acknowledged);
        foreach ($acknowledged as $k => $count) {
            $this->assertGreaterThanOrEqual($k + 1, $count, 'status() counts the acknowledgements of every thread: ' . json_encode($acknowledged));
        }
        $status = $this->status($server, $broker, $topic);
        $this->assertSame(count($sent), $status['acknowledged'], json_encode($status));
        $this->assertSame(count($sent), $status['published'], json_encode($status));

        $listener->waitFor(count($sent));
        $this->assertSameMultiset($sent, $listener->payloads(), 'every message arrived once');
    }

    public static function qualities(): array
    {
        return ['QoS 1' => [1], 'QoS 2' => [2]];
    }

    /**
     * Threads publishing at once on one connection: each write of a thread is its
     * own packet with a packet id no other thread has in flight, so the broker
     * gets every message once.
     *
     * @dataProvider qualities
     */
    public function testThreadsPublishingAtOnceDeliverEveryMessageOnce(int $qos): void
    {
        $broker = $this->broker();
        $topic = $this->topic("burst-$qos");
        $listener = $this->listen($topic, qos: $qos);
        $server = $this->server = ApacheServer::start(self::THREADS);
        $perRequest = 500;

        // One warm-up, so that the burst does not race the connect.
        $server->requests([['publish.php', $this->query($broker, $topic, 'warm-up', ['mode' => 'sync', 'qos' => $qos])]]);
        $batch = [];
        $sent = ['warm-up'];
        for ($i = 0; $i < self::THREADS; $i++) {
            $batch[] = ['publish.php', $this->query($broker, $topic, "t$i", ['count' => $perRequest, 'qos' => $qos])];
            foreach (range(0, $perRequest - 1) as $n) {
                $sent[] = "t$i-$n";
            }
        }
        $server->requests($batch);

        $listener->waitFor(count($sent), 30.0);
        $listener->sync();
        $this->assertSameMultiset($sent, $listener->payloads(), 'every message of every thread arrived once');
        $status = $this->status($server, $broker, $topic);
        $this->assertSame(count($sent), $status['published'], json_encode($status));
        $this->assertSame(0, $status['reconnects'], json_encode($status));
    }

    public function testAGracefulStopFlushesWhatTheThreadsQueued(): void
    {
        $broker = $this->broker();
        $topic = $this->topic('stop');
        $listener = $this->listen($topic);
        $server = $this->server = ApacheServer::start(self::THREADS);
        $perRequest = 300;

        $batch = [];
        $sent = [];
        for ($i = 0; $i < self::THREADS; $i++) {
            $batch[] = ['publish.php', $this->query($broker, $topic, "s$i", ['count' => $perRequest])];
            foreach (range(0, $perRequest - 1) as $n) {
                $sent[] = "s$i-$n";
            }
        }
        $server->requests($batch);
        $server->gracefulStop();

        $log = $server->log();
        $this->assertDoesNotMatchRegularExpression('/not acknowledged|exit signal|panicked/', $log, "the process ended cleanly:\n$log");
        $listener->waitFor(count($sent));
        $this->assertSameMultiset($sent, $listener->payloads(), 'what the threads queued arrived once');
    }

    private function query(Broker $broker, string $topic, string $payload, array $query = []): array
    {
        // The default client id, mqttb-<pid>-<random>: the broker log tells the process.
        $options = $this->options([], $broker);
        unset($options['client_id']);
        return array_replace([
            'options' => json_encode($options),
            'name' => 'zts-' . $this->uniq(),
            'topic' => $topic,
            'payload' => $payload,
            'qos' => 1,
            'mode' => 'async',
        ], $query);
    }

    /** status() of the connection, as a request that publishes nothing sees it. */
    private function status(ApacheServer $server, Broker $broker, string $topic): array
    {
        $body = $server->requests([['publish.php', $this->query($broker, $topic, '', ['count' => 0])]])[0];
        return json_decode($body, true, 16, JSON_THROW_ON_ERROR)['status'];
    }

    /** @return list<string> client ids of the connections the broker saw from $pid */
    private function connectionsFrom(Broker $broker, int $pid): array
    {
        $ids = [];
        foreach ($broker->logLinesMatching("/New client connected from \\S+ as mqttb-$pid-/") as $line) {
            preg_match('/ as (mqttb-\d+-[0-9a-f]+) \(/', $line, $m);
            $ids[] = $m[1];
        }
        return $ids;
    }
}
