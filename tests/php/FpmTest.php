<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\FpmPool;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * PHP-FPM pools (FpmPool): a real php-fpm master (of the PHP under test) with the extension loaded by
 * its php.ini, several workers, recycling (pm.max_requests), graceful stop
 * (SIGQUIT) and reload (SIGUSR2), real FastCGI requests (cgi-fcgi) to the
 * scripts in tests/fpm/, a real mosquitto. Connections are counted on the
 * broker's side (its log), messages by an independent mosquitto_sub.
 *
 * The workers use the default client id, mqttb-<pid>-<random>, which is how the
 * broker log tells which process a connection came from.
 */
final class FpmTest extends MqttTestCase
{
    /** @var list<FpmPool> */
    private array $pools = [];

    protected function tearDown(): void
    {
        foreach ($this->pools as $pool) {
            $pool->kill();
        }
        $this->pools = [];
        parent::tearDown();
    }

    public function testEachWorkerOpensOneConnectionOnFirstUseAndKeepsItAcrossRequests(): void
    {
        $broker = $this->broker();
        $topic = $this->topic('reuse');
        $listener = $this->listen($topic);
        $pool = $this->pool(['children' => 2]);
        $workers = $pool->workerPids();

        foreach ($workers as $pid) {
            $this->assertCount(1, FpmPool::threadNames($pid), "worker $pid runs no thread of ours before its first request");
        }
        $this->assertSame([], $this->connectionsByPid($broker, $workers), "no worker connected before its first request:\n" . $broker->log());

        // Rounds of two concurrent requests, each holding its worker a moment,
        // so that both workers serve requests; then a few one at a time.
        $responses = [];
        $sent = [];
        for ($round = 0; $round < 5; $round++) {
            $batch = [];
            foreach (['a', 'b'] as $slot) {
                $sent[] = $payload = "req-$round-$slot";
                $batch[] = ['publish.php', $this->publishQuery($broker, $topic, $payload, ['mode' => 'sync', 'hold_ms' => 150])];
            }
            foreach ($pool->requests($batch) as $body) {
                $responses[] = $this->decode($body);
            }
        }
        for ($i = 0; $i < 6; $i++) {
            $sent[] = $payload = "seq-$i";
            $responses[] = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, $payload, ['mode' => 'sync'])));
        }

        $byPid = [];
        foreach ($responses as $response) {
            $byPid[$response['pid']][] = $response['status'];
        }
        ksort($byPid);
        $this->assertSame($workers, array_keys($byPid), 'both workers served requests, and only they did');

        $connections = $this->connectionsByPid($broker, $workers);
        foreach ($byPid as $pid => $statuses) {
            $clientId = $statuses[0]['client_id'];
            $this->assertMatchesRegularExpression("/^mqttb-$pid-/", $clientId, "worker $pid connects with an id of its own");
            // One publishSync per request: the k-th request a worker served saw k acknowledged,
            // so its counters kept growing across requests on one connection.
            $acknowledged = array_column($statuses, 'acknowledged');
            sort($acknowledged);
            $this->assertSame(range(1, count($statuses)), $acknowledged, "status() of worker $pid across its requests: " . json_encode($statuses));
            foreach ($statuses as $status) {
                $this->assertSame($clientId, $status['client_id'], "worker $pid kept its connection");
                $this->assertSame('connected', $status['state']);
                $this->assertSame(0, $status['reconnects']);
                $this->assertSame($status['acknowledged'], $status['published']);
            }
            $this->assertSame([$clientId], $connections[$pid] ?? [], "the broker saw exactly one connection from worker $pid, for all its requests:\n" . $broker->log());
            $this->assertContains('mqtt-broadcast', FpmPool::threadNames($pid), "worker $pid runs the extension's runtime thread after first use");
        }

        $listener->waitFor(count($sent));
        $this->assertSame([], array_values(array_diff($sent, $listener->payloads())), 'every request\'s message arrived');
    }

    public function testAWorkerKeepsOneConnectionPerName(): void
    {
        $broker = $this->broker();
        $topic = $this->topic('names');
        $pool = $this->pool(['children' => 1]);
        [$worker] = $pool->workerPids();

        $seen = [];
        for ($i = 1; $i <= 3; $i++) {
            foreach (['orders', 'metrics'] as $name) {
                $status = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, "$name-$i", ['mode' => 'sync', 'name' => $name])))['status'];
                $this->assertSame($name, $status['name']);
                $this->assertSame($i, $status['acknowledged'], "connection \"$name\", request $i: " . json_encode($status));
                $seen[$name][] = $status['client_id'];
            }
        }

        $ids = array_map(fn (array $ids) => array_values(array_unique($ids)), $seen);
        $this->assertCount(1, $ids['orders']);
        $this->assertCount(1, $ids['metrics']);
        $this->assertNotSame($ids['orders'], $ids['metrics'], 'two names, two connections');
        $connections = $this->connectionsByPid($broker, [$worker])[$worker] ?? [];
        sort($connections);
        $expected = [$ids['orders'][0], $ids['metrics'][0]];
        sort($expected);
        $this->assertSame($expected, $connections, "the broker saw one connection per name from the worker:\n" . $broker->log());
    }

    public function testTheMasterStartsNoThreadAndNoConnection(): void
    {
        $broker = $this->broker();
        $pool = $this->pool(['children' => 2]);
        $master = $pool->masterPid();

        $extension = (string) realpath($this->extensionPath());
        $this->assertStringContainsString($extension, (string) file_get_contents("/proc/$master/maps"), 'the master has the extension loaded (from php.ini, before forking)');
        $this->assertCount(1, FpmPool::threadNames($master), 'the master runs one thread after start');

        $topic = $this->topic('master');
        $this->warmUp($pool, $broker, $topic);
        for ($i = 0; $i < 4; $i++) {
            $pool->request('publish.php', $this->publishQuery($broker, $topic, "m-$i"));
        }
        $served = $pool->workerPids();

        $threads = FpmPool::threadNames($master);
        $this->assertCount(1, $threads, 'the master still runs exactly one thread after its workers served requests: ' . implode(', ', $threads));
        $this->assertNotContains('mqtt-broadcast', $threads);
        $this->assertNotContains($master, $served);
        $this->assertSame([], $broker->logLinesMatching("/ as mqttb-$master-/"), "no connection carries the master's pid:\n" . $broker->log());
        foreach ($served as $pid) {
            $this->assertContains('mqtt-broadcast', FpmPool::threadNames($pid), "worker $pid built its own runtime");
            $this->assertCount(1, $this->connectionsByPid($broker, [$pid])[$pid] ?? [], "worker $pid opened its own connection:\n" . $broker->log());
        }
    }

    public function testThePublishOfTheLastRequestBeforeRecyclingArrives(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('recycled');
        $listener = $this->listen($topic, $broker);
        $pool = $this->pool(['children' => 1, 'max_requests' => 3]);
        [$worker] = $pool->workerPids();

        foreach (['first', 'second'] as $payload) {
            $response = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, $payload, ['mode' => 'sync'])));
            $this->assertSame($worker, $response['pid']);
        }

        // With the broker down, the last request's messages are certainly still queued
        // when the worker ends: only the flush at process end can deliver them.
        $broker->stop();
        $last = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'last', ['count' => 50])));
        $this->assertSame($worker, $last['pid'], 'the third request went to the same worker, its last one');
        $this->assertSame(50, $last['status']['queued'] + $last['status']['in_flight'], 'still waiting when the request ended: ' . json_encode($last['status']));
        usleep(300_000);
        $broker->resume();

        $pool->waitForWorkersOtherThan([$worker]);
        $expected = array_merge(['first', 'second'], array_map(fn ($i) => "last-$i", range(0, 49)));
        $listener->waitFor(count($expected));
        $listener->sync();
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), 'every message of the recycled worker arrived');
        $this->assertMatchesRegularExpression("/child $worker exited with code 0/", $pool->log(), 'the recycled worker ended by itself');
        $this->assertSame([], $this->undeliveredReports($pool), 'no message was reported undelivered');
    }

    public function testThePublishOfTheLastRequestBeforeAGracefulStopArrives(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('stopped');
        $listener = $this->listen($topic, $broker);
        $pool = $this->pool(['children' => 2]);
        $workers = $pool->workerPids();
        $this->warmUp($pool, $broker, $topic);

        $broker->stop();
        $last = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'before-quit')));
        $this->assertSame(1, $last['status']['queued'] + $last['status']['in_flight'], json_encode($last['status']));

        $pool->signal(SIGQUIT);
        usleep(300_000);
        $broker->resume();
        $pool->waitForExit(30.0);

        // The workers are gone, so they delivered or gave up: sync() sees what the broker got.
        $listener->sync();
        $this->assertContains('before-quit', $listener->payloads());
        foreach ($workers as $pid) {
            $this->assertMatchesRegularExpression("/child $pid exited with code 0/", $pool->log(), "worker $pid ended by itself after SIGQUIT");
        }
        $this->assertSame([], $this->undeliveredReports($pool), 'no message was reported undelivered');
    }

    public function testAGracefulStopWithTheBrokerDownEndsAfterFlushTimeoutAndReportsTheLoss(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('stuck');
        // FPM itself would wait 20 s before it escalates to SIGTERM: a worker that
        // exits with code 0 before that bounded its flush by flush_timeout.
        $pool = $this->pool(['children' => 1, 'process_control_timeout' => 20]);
        [$worker] = $pool->workerPids();
        $options = ['flush_timeout' => 1.0];
        $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'up', ['mode' => 'sync'], $options)));

        $broker->stop();
        $stuck = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'never', [], $options)));
        $this->assertSame(1, $stuck['status']['queued'] + $stuck['status']['in_flight'], json_encode($stuck['status']));

        $seconds = $pool->quit(15.0);

        $log = $pool->log();
        $this->assertMatchesRegularExpression("/child $worker exited with code 0/", $log, "the worker ended by itself, it was not killed by FPM (stop took {$seconds}s)");
        $this->assertSame(
            [1],
            $this->undeliveredReports($pool),
            "the message left over at exit is reported in the worker's stderr (FPM log):\n$log"
        );
    }

    public function testThePublishOfTheLastRequestBeforeAReloadArrives(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('reloaded');
        $listener = $this->listen($topic, $broker);
        $pool = $this->pool(['children' => 2]);
        $master = $pool->masterPid();
        $old = $pool->workerPids();
        $this->warmUp($pool, $broker, $topic);

        $broker->stop();
        $last = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'before-reload')));
        $this->assertSame(1, $last['status']['queued'] + $last['status']['in_flight'], json_encode($last['status']));

        $readyBefore = $pool->readyCount();
        $pool->signal(SIGUSR2);
        usleep(300_000);
        $broker->resume();
        $new = $pool->waitForReload($old, $readyBefore, 30.0);

        $this->assertSame($master, $pool->masterPid());
        $this->assertCount(1, FpmPool::threadNames($master), 'the re-executed master runs one thread');
        // The old workers are gone, so they delivered or gave up: sync() sees what the broker got.
        $listener->sync();
        $this->assertContains('before-reload', $listener->payloads());
        foreach ($old as $pid) {
            $this->assertMatchesRegularExpression("/child $pid exited with code 0/", $pool->log(), "old worker $pid ended by itself");
        }
        $this->assertSame([], $this->undeliveredReports($pool), 'no message was reported undelivered');

        // The new workers open connections of their own.
        $after = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'after-reload', ['mode' => 'sync'])));
        $this->assertContains($after['pid'], $new);
        $this->assertMatchesRegularExpression("/^mqttb-{$after['pid']}-/", $after['status']['client_id']);
        $this->assertSame(1, $after['status']['published'], 'a new worker starts a fresh connection');
    }

    public function testRequestsStayFastWhileTheBrokerIsDownAndQueuedMessagesArriveAfterwards(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('outage');
        $listener = $this->listen($topic, $broker);
        $pool = $this->pool(['children' => 1]);
        [$worker] = $pool->workerPids();

        $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'up', ['mode' => 'sync'])));
        $broker->stop();

        $expected = ['up'];
        for ($r = 1; $r <= 5; $r++) {
            $response = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, "down-$r", ['count' => 20])));
            $this->assertSame($worker, $response['pid']);
            $status = $response['status'];
            $this->assertSame(20 * $r, $status['queued'] + $status['in_flight'], "request $r: publish() queued and returned: " . json_encode($status));
            $expected = array_merge($expected, array_map(fn ($i) => "down-$r-$i", range(0, 19)));
        }

        // A request's own bound (request_timeout) catches a hang; the answer must be a timeout.
        $sync = $this->decode($pool->request('publish-sync.php', [
            'options' => json_encode($this->workerOptions($broker)),
            'topic' => $topic,
            'payload' => 'sync-while-down',
            'qos' => 1,
            'timeout' => 0.5,
        ]));
        $this->assertSame('Mqtt\TimeoutException', $sync['exception'], 'publishSync() while the broker is down: ' . json_encode($sync));
        $this->assertGreaterThanOrEqual(0.5, $sync['elapsed'], 'publishSync() waited for its timeout');
        $this->assertSame(101, $sync['status']['queued'] + $sync['status']['in_flight'], 'the timed-out message stays queued: ' . json_encode($sync['status']));
        $this->assertFalse($sync['status']['connected'], json_encode($sync['status']));
        $expected[] = 'sync-while-down';

        $broker->resume();
        $listener->waitFor(count($expected));
        $listener->sync();
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), 'every queued QoS 1 message arrived after the broker came back');

        $status = $this->awaitDrained($pool, $broker, $topic);
        $this->assertSame('connected', $status['state']);
        $this->assertGreaterThanOrEqual(1, $status['reconnects']);
        $connections = $this->connectionsByPid($broker, [$worker])[$worker] ?? [];
        $this->assertSame([$status['client_id']], array_values(array_unique($connections)), "the worker kept one client id:\n" . $broker->log());
        $this->assertGreaterThanOrEqual(2, count($connections), "the worker reconnected after the outage:\n" . $broker->log());
    }

    /**
     * SIGKILL ends a worker without a flush: what it had not written to the socket
     * is lost (documented, not asserted here). What must hold: the master replaces
     * it, and the replacement builds its own connection.
     */
    public function testAWorkerKilledWithSigkillIsReplacedByOneWithItsOwnConnection(): void
    {
        $broker = $this->broker();
        $topic = $this->topic('killed');
        $pool = $this->pool(['children' => 1]);
        [$worker] = $pool->workerPids();
        $before = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'before', ['mode' => 'sync'])));
        $this->assertSame($worker, $before['pid']);

        posix_kill($worker, SIGKILL);
        [$replacement] = $pool->waitForWorkersOtherThan([$worker]);

        $after = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, 'after', ['mode' => 'sync'])));
        $this->assertSame($replacement, $after['pid']);
        $this->assertMatchesRegularExpression("/^mqttb-$replacement-/", $after['status']['client_id']);
        $this->assertSame(1, $after['status']['published'], 'the replacement starts a fresh connection');
        $this->assertCount(1, $this->connectionsByPid($broker, [$replacement])[$replacement] ?? [], $broker->log());
        $this->assertMatchesRegularExpression("/child $worker exited on signal 9/", $pool->log());
    }

    /** A pool killed at the end of the test, whatever happened. */
    private function pool(array $options): FpmPool
    {
        $pool = FpmPool::start($options);
        $this->pools[] = $pool;
        return $pool;
    }

    private function extensionPath(): string
    {
        return \MqttBroadcast\Tests\Support\PhpScript::extensionPath();
    }

    /** Options of the workers' connection: the default client id (it carries the worker's pid). */
    private function workerOptions(Broker $broker, array $overrides = []): array
    {
        $options = $this->options($overrides, $broker);
        unset($options['client_id']);
        return $options;
    }

    /** @return array<string,scalar> the query of publish.php */
    private function publishQuery(Broker $broker, string $topic, string $payload, array $query = [], array $options = []): array
    {
        return array_replace([
            'options' => json_encode($this->workerOptions($broker, $options)),
            'topic' => $topic,
            'payload' => $payload,
            'qos' => 1,
            'mode' => 'async',
        ], $query);
    }

    /** Every worker of the pool has its connection up: concurrent requests until each worker served one. */
    private function warmUp(FpmPool $pool, Broker $broker, string $topic): void
    {
        $workers = $pool->workerPids();
        $served = [];
        for ($round = 0; $round < 5 && array_diff($workers, $served) !== []; $round++) {
            $batch = array_map(
                fn (int $i) => ['publish.php', $this->publishQuery($broker, $topic, "warm-$round-$i", ['mode' => 'sync', 'hold_ms' => 200])],
                array_keys($workers)
            );
            foreach ($pool->requests($batch) as $body) {
                $served[] = $this->decode($body)['pid'];
            }
        }
        $this->assertSame([], array_values(array_diff($workers, $served)), 'every worker served a warm-up request');
    }

    /** Asks the (single) worker for its status until nothing is queued or in flight. */
    private function awaitDrained(FpmPool $pool, Broker $broker, string $topic): array
    {
        $deadline = microtime(true) + 15.0;
        while (true) {
            $status = $this->decode($pool->request('publish.php', $this->publishQuery($broker, $topic, '', ['count' => 0])))['status'];
            if ($status['queued'] === 0 && $status['in_flight'] === 0) {
                return $status;
            }
            if (microtime(true) >= $deadline) {
                $this->fail('the worker\'s outbox did not drain after the broker came back: ' . json_encode($status));
            }
            usleep(100_000);
        }
    }

    private function decode(string $body): array
    {
        try {
            return json_decode($body, true, 16, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            $this->fail("not a JSON response ({$e->getMessage()}): " . var_export($body, true));
        }
    }

    /**
     * Client ids of the connections the broker saw from these pids, by pid (one entry per connect).
     *
     * @param list<int> $pids
     * @return array<int, list<string>>
     */
    private function connectionsByPid(Broker $broker, array $pids): array
    {
        $connections = [];
        foreach ($broker->logLinesMatching('/New client connected from \S+ as mqttb-\d+-/') as $line) {
            preg_match('/ as (mqttb-(\d+)-[0-9a-f]+) \(/', $line, $m);
            if (in_array((int) $m[2], $pids, true)) {
                $connections[(int) $m[2]][] = $m[1];
            }
        }
        ksort($connections);
        return $connections;
    }

    /** @return list<int> the counts of the "ended with N messages not acknowledged" lines workers wrote at exit */
    private function undeliveredReports(FpmPool $pool): array
    {
        preg_match_all('/ended with (\d+) messages? not acknowledged/', $pool->log(), $m);
        return array_map('intval', $m[1]);
    }
}
