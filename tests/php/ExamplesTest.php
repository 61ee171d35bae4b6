<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpResult;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * The scripts in examples/ do what their comments say: each runs as a child PHP
 * process against a real Mosquitto of its own (examples use fixed topics and
 * retain messages), and an independent mosquitto_sub checks what arrived.
 */
final class ExamplesTest extends MqttTestCase
{
    private const EXAMPLES = __DIR__ . '/../../examples';

    public function testPublishExampleDeliversItsMessages(): void
    {
        $broker = $this->ownBroker();
        $listener = $this->listen('examples/#', $broker);

        $result = $this->runExample('publish.php', $broker);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertStringContainsString('publishSync: the broker acknowledged examples/sensors/temperature', $result->stdout);
        self::assertStringContainsString('flush: everything acknowledged', $result->stdout);
        self::assertSameMultiset(
            ['examples/greetings hello from publish()', 'examples/greetings fire and forget, QoS 0', 'examples/sensors/temperature 21.5'],
            self::lines($listener->waitFor(3))
        );
    }

    public function testPublishSyncExampleDeliversTelemetryAndTheOrder(): void
    {
        $broker = $this->ownBroker();
        $listener = $this->listen('examples/#', $broker);

        $result = $this->runExample('publish-sync.php', $broker);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertSame("delivered: the broker acknowledged examples/orders/created\n", $result->stdout);
        self::assertSame('', $result->stderr);
        self::assertSameMultiset(
            [
                'examples/telemetry/kitchen 21.5',
                'examples/telemetry/garage 14.0',
                'examples/telemetry/attic 25.25',
                'examples/orders/created {"order":1001,"total":59.9}',
            ],
            self::lines($listener->waitFor(4))
        );
    }

    public function testPublishSyncExampleReportsABadOption(): void
    {
        $result = $this->runExample('publish-sync.php', null, ['MQTT_PORT' => 'not-a-port']);

        self::assertSame(2, $result->exitCode, $result->describe());
        self::assertStringContainsString('configuration error: option "port"', $result->stderr);
    }

    public function testPublishSyncExampleReportsAConnectionThatFailedForGood(): void
    {
        $result = $this->runExample('publish-sync.php', null, ['MQTT_PORT' => (string) Broker::freePort()]);

        self::assertSame(5, $result->exitCode, $result->describe());
        self::assertStringContainsString('connection failed: ', $result->stderr);
        self::assertStringContainsString('failed for good', $result->stderr);
    }

    public function testPublishSyncExampleReportsAFullQueue(): void
    {
        // Nothing listens: the three telemetry messages wait, the third does not fit into max_queue 2.
        $result = $this->runExample('publish-sync.php', null, ['MQTT_PORT' => (string) Broker::freePort(), 'MQTT_MAX_QUEUE' => '2']);

        self::assertSame(4, $result->exitCode, $result->describe());
        self::assertStringContainsString('queue full, message not accepted: ', $result->stderr);
    }

    public function testPublishSyncExampleReportsATimeout(): void
    {
        // Accepts TCP connections (the kernel does, into the backlog) and never
        // answers the MQTT CONNECT: no acknowledgement can come.
        $silent = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        self::assertNotFalse($silent, "cannot listen: $error");
        $port = (int) substr((string) stream_socket_get_name($silent, false), strlen('127.0.0.1:'));

        try {
            $result = $this->runExample('publish-sync.php', null, ['MQTT_PORT' => (string) $port, 'MQTT_TIMEOUT' => '1']);
        } finally {
            fclose($silent);
        }

        self::assertSame(3, $result->exitCode, $result->describe());
        self::assertStringContainsString('not acknowledged within 1 s: ', $result->stderr);
        self::assertStringContainsString('the order stays queued', $result->stderr);
    }

    public function testSubscriberDaemonPrintsMessagesAndExitsCleanlyOnSigterm(): void
    {
        if (!class_exists('Mqtt\\Subscriber')) {
            self::markTestSkipped('Mqtt\\Subscriber is not in this build of the extension yet');
        }
        $broker = $this->ownBroker();
        $dir = $broker->dir();
        $daemon = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', self::EXAMPLES . '/subscriber-daemon.php'],
            "$dir/daemon.out",
            "$dir/daemon.err",
            array_merge(getenv(), ['MQTT_HOST' => $broker->host(), 'MQTT_PORT' => (string) $broker->port()])
        );

        self::awaitOutput($daemon, "$dir/daemon.out", 'subscribed to sensors/+/temperature');
        // Retained, so that it arrives even if the subscription were not active yet
        // (the broker sets the retain flag only on a delivery caused by subscribing).
        $broker->mosquittoPub('sensors/kitchen/temperature', '21.5', 1, true);
        self::awaitOutput($daemon, "$dir/daemon.out", 'sensors/kitchen/temperature = 21.5 (via sensors, QoS 1');
        $broker->mosquittoPub('sensors/garage/temperature', '14.0', 1);
        self::awaitOutput($daemon, "$dir/daemon.out", 'sensors/garage/temperature = 14.0 (via sensors, QoS 1)');

        posix_kill($daemon->pid(), SIGTERM);
        $stoppedInTime = $daemon->wait(3.0);

        $stdout = (string) file_get_contents("$dir/daemon.out");
        $stderr = (string) file_get_contents("$dir/daemon.err");
        self::assertTrue($stoppedInTime, "the daemon did not exit within 3 s of SIGTERM\n--- stdout ---\n$stdout\n--- stderr ---\n$stderr");
        self::assertSame(0, $daemon->exitCode(), "--- stdout ---\n$stdout\n--- stderr ---\n$stderr");
        self::assertStringEndsWith("stopped after 2 message(s)\n", $stdout);
        self::assertSame('', $stderr);
    }

    /** A broker for this test alone: the examples use fixed topics and retain messages. */
    public function testJobWorkerTakesHighFirstRunsAKilledJobAgainAndAnnouncesItself(): void
    {
        $broker = $this->ownBroker();
        $dir = $broker->dir();
        $states = $this->listen('workers/#', $broker);
        $statuses = $this->listen('jobs/status/#', $broker);
        $start = fn (string $out) => new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', self::EXAMPLES . '/job-worker.php'],
            "$dir/$out",
            "$dir/daemon.err",
            array_merge(getenv(), ['MQTT_HOST' => $broker->host(), 'MQTT_PORT' => (string) $broker->port(), 'WORKER_ID' => 'worker-1', 'HEARTBEAT_SECONDS' => '0.2'])
        );
        $worker = $start('worker-1.out');
        self::awaitOutput($worker, "$dir/worker-1.out", 'worker worker-1 online');
        // Registered, and a heartbeat while idle.
        $deadline = microtime(true) + 10.0;
        while (count(array_filter($states->payloads(), static fn (string $p) => json_decode($p, true)['state'] === 'online')) < 3) {
            self::assertLessThan($deadline, microtime(true), 'no heartbeats: ' . json_encode($states->payloads()));
            usleep(20_000);
        }

        // Busy with a normal job while low and high jobs arrive: the high ones come first.
        $broker->mosquittoPub('jobs/queue/normal/sleep', '{"id":"busy","data":{"seconds":1}}');
        self::awaitOutput($worker, "$dir/worker-1.out", 'job busy (sleep, normal) started');
        foreach (['low-1' => 'low', 'low-2' => 'low', 'high-1' => 'high', 'high-2' => 'high'] as $id => $priority) {
            $broker->mosquittoPub("jobs/queue/$priority/echo", json_encode(['id' => $id]));
        }
        self::awaitOutput($worker, "$dir/worker-1.out", 'job low-2 completed');
        preg_match_all('/^job (\S+) \(.*\) started/m', (string) file_get_contents("$dir/worker-1.out"), $started);
        self::assertSame(['busy', 'high-1', 'high-2', 'low-1', 'low-2'], $started[1]);

        // Killed in the middle of a job: the broker publishes the will, and
        // gives the job to the worker again when it is back.
        $broker->mosquittoPub('jobs/queue/normal/sleep', '{"id":"slow","data":{"seconds":2}}');
        self::awaitOutput($worker, "$dir/worker-1.out", 'job slow (sleep, normal) started, attempt 1');
        $worker->kill();
        $deadline = microtime(true) + 10.0;
        while (!in_array('connection lost', array_map(static fn (string $p) => json_decode($p, true)['reason'], $states->payloads()), true)) {
            self::assertLessThan($deadline, microtime(true), 'no last will: ' . json_encode($states->payloads()));
            usleep(20_000);
        }
        $worker = $start('worker-1-again.out');
        self::awaitOutput($worker, "$dir/worker-1-again.out", 'job slow (sleep, normal) started, attempt 1, delivered again');
        self::awaitOutput($worker, "$dir/worker-1-again.out", 'job slow completed');

        // A job that throws goes back to its queue until its third attempt.
        $broker->mosquittoPub('jobs/queue/normal/fail', '{"id":"flaky"}');
        self::awaitOutput($worker, "$dir/worker-1-again.out", 'job flaky failed: this job always fails');

        posix_kill($worker->pid(), SIGTERM);
        self::assertTrue($worker->wait(5.0), 'the worker did not stop on SIGTERM');
        self::assertSame(0, $worker->exitCode());
        self::assertStringContainsString('stopped after 4 job(s)', (string) file_get_contents("$dir/worker-1-again.out"));
        $statuses->sync();
        $byJob = [];
        foreach ($statuses->messages() as [$topic, $payload]) {
            $byJob[substr($topic, strlen('jobs/status/'))][] = json_decode($payload, true)['status'];
        }
        self::assertSame(['completed'], $byJob['slow']);
        self::assertSame(['retry', 'retry', 'failed'], $byJob['flaky']);
        self::assertSame(['completed'], $byJob['high-1']);
        $states->sync();
        $last = json_decode($states->payloads()[count($states->payloads()) - 1], true);
        self::assertSame(['offline', 'stopped'], [$last['state'], $last['reason']]);
    }

    public function testMosquittoCompatWorkerRegistersTakesJobsAndSaysGoodbye(): void
    {
        $broker = $this->ownBroker();
        $listener = $this->listen('workers/#', $broker);
        $done = $this->listen('jobs/done/#', $broker);
        $dir = $broker->dir();
        $worker = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', self::EXAMPLES . '/mosquitto-compat.php'],
            "$dir/compat.out",
            "$dir/compat.err",
            array_merge(getenv(), ['MQTT_HOST' => $broker->host(), 'MQTT_PORT' => (string) $broker->port(), 'WORKER_ID' => 'w1', 'MAX_JOBS' => '3', 'HEARTBEAT_SECONDS' => '0.2'])
        );
        self::awaitOutput($worker, "$dir/compat.out", 'w1 online');
        $broker->mosquittoPub('jobs/queue/high/email', '{"id":"j-1"}');
        $broker->mosquittoPub('jobs/queue/low/report', '{"id":"j-2"}');
        $broker->mosquittoPub('jobs/queue/normal/resize', 'not json');

        self::assertTrue($worker->wait(20.0), (string) @file_get_contents("$dir/compat.out") . @file_get_contents("$dir/compat.err"));
        self::assertSame(0, $worker->exitCode(), (string) @file_get_contents("$dir/compat.err"));
        self::assertStringContainsString('w1 stopped after 3 jobs', (string) file_get_contents("$dir/compat.out"));
        $finished = self::lines($done->waitFor(3));
        self::assertContains('jobs/done/j-1 {"worker":"w1","priority":"high","type":"email"}', $finished);
        self::assertContains('jobs/done/j-2 {"worker":"w1","priority":"low","type":"report"}', $finished);
        self::assertCount(1, preg_grep('#^jobs/done/mid-\d+ \{"worker":"w1","priority":"normal","type":"resize"\}$#', $finished));
        $listener->sync();
        $status = array_values(array_filter(self::lines($listener->messages()), fn ($line) => str_starts_with($line, 'workers/w1 ')));
        self::assertSame(['workers/w1 online', 'workers/w1 offline'], $status, 'registered, then said goodbye');
        self::assertNotEmpty(preg_grep('#^workers/w1/heartbeat \d+$#', self::lines($listener->messages())));
    }

    /** @param array<string,string> $env overrides MQTT_HOST / MQTT_PORT of $broker */
    private function runExample(string $example, ?Broker $broker, array $env = []): PhpResult
    {
        $env += $broker === null ? ['MQTT_HOST' => '127.0.0.1'] : ['MQTT_HOST' => $broker->host(), 'MQTT_PORT' => (string) $broker->port()];
        return PhpScript::runFile(self::EXAMPLES . "/$example", [], $env, 60.0);
    }

    /**
     * @param list<array{0:string,1:string}> $messages
     * @return list<string> "topic payload"
     */
    private static function lines(array $messages): array
    {
        return array_map(static fn (array $m) => "$m[0] $m[1]", $messages);
    }

    private static function awaitOutput(BackgroundProcess $process, string $file, string $expected, float $timeout = 10.0): void
    {
        $deadline = microtime(true) + $timeout;
        while (!str_contains((string) @file_get_contents($file), $expected)) {
            if (!$process->isRunning() || microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    "expected the daemon to print \"%s\"%s\n--- stdout ---\n%s\n--- stderr ---\n%s",
                    $expected,
                    $process->isRunning() ? " within {$timeout} s" : ", but it exited with code {$process->exitCode()}",
                    Failure::tail((string) @file_get_contents($file)),
                    Failure::tail((string) @file_get_contents(dirname($file) . '/daemon.err'))
                ));
            }
            usleep(20_000);
        }
    }
}
