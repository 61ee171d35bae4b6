<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Daemon\Daemon;
use MqttBroadcast\Laravel\Tests\DaemonProcess;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Mqtt5Publisher;

/**
 * `php artisan mqtt-broadcast` of the test application as a real child process,
 * fed with mosquitto_pub; the test application's listeners (a class, a queued
 * class and a closure) record what they get.
 */
final class DaemonTest extends TestCase
{
    protected function setUp(): void
    {
        if (!class_exists(\Mqtt\Subscriber::class)) {
            self::markTestSkipped('the loaded mqtt_broadcast extension has no Mqtt\Subscriber yet');
        }
        parent::setUp();
    }

    public function test_every_kind_of_listener_gets_the_messages_published_to_the_broker(): void
    {
        $prefix = $this->topic('app') . '/';
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1']);
        $daemon->awaitSubscription(static::broker(), 'probe', $prefix);

        static::broker()->mosquittoPub($prefix . 'sensors/1/temperature', '25.5', qos: 1);
        static::broker()->mosquittoPub($prefix . 'sensors/1/raw', "\x00\xffbinary\n", qos: 0);
        static::broker()->mosquittoPub($prefix . 'status', 'online', qos: 1, retain: true);
        $daemon->waitForMessages("{$prefix}s", 3);

        // Topics come as the broker has them, prefix included, as with the pure-PHP package.
        $expected = [
            ["{$prefix}sensors/1/temperature", bin2hex('25.5'), 'default', 1, false],
            ["{$prefix}sensors/1/raw", bin2hex("\x00\xffbinary\n"), 'default', 0, false],
            ["{$prefix}status", bin2hex('online'), 'default', 1, false],
        ];
        foreach (['class', 'queued', 'closure'] as $listener) {
            self::assertSame(
                $expected,
                array_map(static fn (array $r) => [$r['topic'], $r['hex'], $r['broker'], $r['qos'], $r['retain']], $daemon->receivedBy($listener, "{$prefix}s")),
                "$listener listener\n" . $daemon->describe()
            );
        }
        self::assertSame([$daemon->pid()], array_values(array_unique(array_column($daemon->received(), 'pid'))));

        // Retained messages come with the retain flag to a subscriber that arrives later.
        $daemon->signal(SIGTERM);
        self::assertSame(0, $daemon->waitForExit(10.0));
        $second = $this->startDaemon(['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1']);
        $retained = array_values(array_filter($second->waitForMessages("{$prefix}status", 2), static fn (array $r) => $r['pid'] === $second->pid()));
        self::assertSame([["{$prefix}status", 'online', true]], array_map(static fn (array $r) => [$r['topic'], $r['message'], $r['retain']], $retained));
        static::broker()->mosquittoPub($prefix . 'status', '', qos: 1, retain: true);
    }

    public function test_over_mqtt_5_listeners_get_the_messages_properties(): void
    {
        $prefix = $this->topic('app') . '/';
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1', 'MQTT_PROTOCOL' => '5']);
        $daemon->awaitSubscription(static::broker(), 'probe', $prefix);

        Mqtt5Publisher::publish(static::broker(), $prefix . 'orders', 'placed', [
            'user_properties' => [['tag', 'a'], ['tag', 'b']],
            'content_type' => 'application/json',
            'response_topic' => $prefix . 'replies/1',
            'correlation_data' => "\x01\xff",
        ]);
        $daemon->waitForMessages("{$prefix}orders", 1);

        foreach (['class', 'queued', 'closure'] as $listener) {
            [$received] = $daemon->receivedBy($listener, "{$prefix}orders");
            self::assertSame([
                'user_properties' => ['tag' => ['a', 'b']],
                'content_type' => bin2hex('application/json'),
                'response_topic' => bin2hex('replies/1'),
                'correlation_data' => bin2hex("\x01\xff"),
            ], $received['properties'], "$listener listener\n" . $daemon->describe());
        }
    }

    public function test_it_prints_a_startup_summary(): void
    {
        $prefix = $this->topic('app') . '/';
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1', 'MQTT_CLIENT_ID' => $this->uniq(), 'MQTT_CLEAN_SESSION' => 'false']);

        $output = $daemon->output();
        self::assertMatchesRegularExpression('/mqtt-broadcast daemon \S+ started: pid ' . $daemon->pid() . ', environment "testing"/', $output);
        self::assertStringContainsString(
            sprintf('default: mqtt://127.0.0.1:%d, connected, client id %s, persistent session; topics %s# (QoS 1)', static::broker()->port(), $this->uniq(), $prefix),
            $output
        );
        self::assertStringContainsString('Listening. Stop with SIGTERM or SIGINT', $output);
    }

    public function test_a_listener_that_throws_is_reported_and_the_daemon_goes_on(): void
    {
        $topic = $this->topic('t');
        $daemon = $this->startDaemon();
        $daemon->awaitSubscription(static::broker(), "$topic/probe");

        static::broker()->mosquittoPub("$topic/bad", 'boom', 1);
        static::broker()->mosquittoPub("$topic/good", 'after the boom', 1);

        $daemon->waitForMessages("$topic/good", 1);
        self::assertTrue($daemon->isRunning());
        self::assertStringContainsString("testing.ERROR: listener exploded on $topic/bad", $this->laravelLog(), 'reported through the exception handler');
        self::assertStringContainsString("A listener failed on \"$topic/bad\" (connection default): RuntimeException: listener exploded on $topic/bad", $daemon->output());
    }

    /** @return iterable<string, array{int}> */
    public static function stopSignals(): iterable
    {
        yield 'SIGTERM' => [SIGTERM];
        yield 'SIGINT' => [SIGINT];
    }

    /** @dataProvider stopSignals */
    public function test_a_stop_signal_ends_it_promptly_with_exit_code_0(int $signal): void
    {
        $daemon = $this->startDaemon();
        $daemon->awaitSubscription(static::broker(), $this->topic('probe'));

        $sent = microtime(true);
        $daemon->signal($signal);
        $code = $daemon->waitForExit(10.0);

        self::assertSame(0, $code, $daemon->describe());
        self::assertLessThan(3.0, microtime(true) - $sent, 'exited within seconds');
        self::assertStringContainsString('Stopped (exit code 0).', $daemon->output());
    }

    /**
     * Five slow QoS 1 messages and a SIGTERM while the first is handled: the
     * handler finishes, the daemon exits 0, and with a persistent session every
     * message it did not handle comes again to the next daemon: none was
     * acknowledged without being handled.
     */
    public function test_sigterm_lets_the_current_handler_finish_and_loses_no_acknowledged_message(): void
    {
        $topic = $this->topic('slow');
        $env = ['MQTT_CLIENT_ID' => $this->uniq(), 'MQTT_CLEAN_SESSION' => 'false', 'MQTT_QOS' => '1'];
        $first = $this->startDaemon($env);
        $first->awaitSubscription(static::broker(), "$topic/probe");

        $payloads = array_map(static fn (int $i) => "slow:400 #$i", range(1, 5));
        foreach ($payloads as $payload) {
            static::broker()->mosquittoPub("$topic/job", $payload, qos: 1);
        }
        $deadline = microtime(true) + 10.0;
        while ($first->receivedBy('class', "$topic/job", 'started') === [] && microtime(true) < $deadline) {
            usleep(10_000);
        }
        $first->signal(SIGTERM);
        self::assertSame(0, $first->waitForExit(10.0), $first->describe());

        $startedByFirst = array_column($first->receivedBy('class', "$topic/job", 'started'), 'message');
        $handledByFirst = array_column($first->receivedBy('class', "$topic/job"), 'message');
        self::assertNotEmpty($startedByFirst);
        self::assertSame($startedByFirst, $handledByFirst, 'every handler that started finished');
        self::assertLessThan(count($payloads), count($handledByFirst), 'the SIGTERM came before the last message');

        $second = $this->startDaemon($env);
        $second->waitForMessages("$topic/job", count($payloads), 20.0);
        $handled = array_unique(array_column($second->receivedBy('class', "$topic/job"), 'message'));
        sort($handled);
        self::assertSame($payloads, $handled, "handled by the first daemon: " . implode(', ', $handledByFirst));
    }

    public function test_sigusr2_pauses_sigcont_continues_and_sigusr1_restarts(): void
    {
        $topic = $this->topic('paused');
        $daemon = $this->startDaemon(['MQTT_QOS' => '1']);
        $daemon->awaitSubscription(static::broker(), "$topic/probe");

        $daemon->signal(SIGUSR2);
        $daemon->waitForOutput('/Paused \(SIGUSR2\)/');
        static::broker()->mosquittoPub("$topic/m", 'while paused', 1);
        usleep(1_500_000);
        self::assertSame([], $daemon->receivedBy('class', "$topic/m"), 'no message is taken while paused');
        self::assertMatchesRegularExpression('/\| testing +\| paused /', $this->artisan(['mqtt-broadcast:status'])->stdout);

        $daemon->signal(SIGCONT);
        self::assertSame('while paused', $daemon->waitForMessages("$topic/m", 1)[0]['message']);
        self::assertStringContainsString('Continuing (SIGCONT).', $daemon->output());

        $daemon->signal(SIGUSR1);
        self::assertSame(0, $daemon->waitForExit(10.0), $daemon->describe());
        self::assertStringContainsString('Restarting (SIGUSR1): stopping with exit code 0', $daemon->output());
    }

    public function test_terminate_takes_a_connection_name_as_the_pure_php_package_did(): void
    {
        $daemon = $this->startDaemon();

        $other = $this->artisan(['mqtt-broadcast:terminate', 'backup']);
        self::assertSame(0, $other->exitCode, $other->describe());
        self::assertStringContainsString('listens on connection "backup"', $other->stdout);
        self::assertTrue($daemon->isRunning());

        $terminate = $this->artisan(['mqtt-broadcast:terminate', 'default', '--wait']);
        self::assertSame(0, $terminate->exitCode, $terminate->describe());
        self::assertStringContainsString("(pid {$daemon->pid()})", $terminate->stdout);
        self::assertSame(0, $daemon->waitForExit(5.0));
    }

    public function test_a_connection_down_for_max_failure_duration_stops_it_with_exit_code_3(): void
    {
        $broker = Broker::start();
        $daemon = $this->startDaemon(['MQTT_PORT' => (string) $broker->port(), 'MQTT_MAX_FAILURE_DURATION' => '1', 'MQTT_MAX_RETRY_DELAY' => '1']);

        $broker->stop();

        self::assertSame(Daemon::EXIT_CONNECTION_FAILED, $daemon->waitForExit(15.0), $daemon->describe());
        self::assertMatchesRegularExpression('/Connection default has not been connected for \d+ s \(max_failure_duration 1 s\): stopping with exit code 3/', $daemon->output());
    }

    public function test_status_and_terminate_see_the_running_daemon(): void
    {
        $daemon = $this->startDaemon();
        preg_match('/mqtt-broadcast daemon (\S+) started/', $daemon->output(), $match);
        $name = $match[1];

        $status = $this->artisan(['mqtt-broadcast:status']);
        self::assertSame(0, $status->exitCode, $status->describe());
        self::assertStringContainsString('mqtt-broadcast is running: 1 daemon(s).', $status->stdout);
        self::assertMatchesRegularExpression("/\\| $name +\\| " . preg_quote((string) gethostname(), '/') . ' +\| ' . $daemon->pid() . ' +\| testing /', $status->stdout);
        self::assertMatchesRegularExpression("/\\| $name +\\| default +\\| connected +\\| mqtt:\\/\\/127\\.0\\.0\\.1:" . static::broker()->port() . ' /', $status->stdout);

        $unknown = $this->artisan(['mqtt-broadcast:terminate', 'no-such-daemon']);
        self::assertSame(1, $unknown->exitCode, $unknown->describe());
        self::assertStringContainsString("No mqtt-broadcast daemon named \"no-such-daemon\" is running (running: $name), and no connection has that name.", $unknown->stdout);

        $terminate = $this->artisan(['mqtt-broadcast:terminate', '--wait']);
        self::assertSame(0, $terminate->exitCode, $terminate->describe());
        self::assertStringContainsString("Sent SIGTERM to daemon $name (pid {$daemon->pid()}).", $terminate->stdout);
        self::assertStringContainsString("Daemon $name exited.", $terminate->stdout);
        self::assertSame(0, $daemon->waitForExit(5.0));

        $after = $this->artisan(['mqtt-broadcast:status']);
        self::assertSame(2, $after->exitCode, $after->describe());
        self::assertStringContainsString('mqtt-broadcast is not running', $after->stdout);
    }

    public function test_terminate_by_name_stops_only_that_daemon(): void
    {
        $one = $this->startDaemon();
        $two = $this->startDaemon();
        preg_match('/mqtt-broadcast daemon (\S+) started/', $one->output(), $match);

        $terminate = $this->artisan(['mqtt-broadcast:terminate', $match[1]]);

        self::assertSame(0, $terminate->exitCode, $terminate->describe());
        self::assertSame(0, $one->waitForExit(5.0));
        self::assertTrue($two->isRunning());
        $status = $this->artisan(['mqtt-broadcast:status']);
        self::assertStringContainsString('mqtt-broadcast is running: 1 daemon(s).', $status->stdout);
    }

    public function test_received_messages_are_logged_to_the_database(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        foreach ([['vendor:publish', '--tag=mqtt-broadcast-migrations'], ['migrate', '--force']] as $command) {
            $result = $this->artisan($command);
            self::assertSame(0, $result->exitCode, $result->describe());
        }
        $topic = $this->topic('logged');
        $daemon = $this->startDaemon(['MQTT_LOG_ENABLE' => 'true']);
        $daemon->awaitSubscription(static::broker(), "$topic/probe");

        foreach (range(1, 10) as $i) {
            static::broker()->mosquittoPub("$topic/m", "message $i", 1);
        }
        $daemon->waitForMessages("$topic/m", 10);

        $pdo = new \PDO("sqlite:{$this->appDir}/database/database.sqlite");
        $deadline = microtime(true) + 5.0;
        do {
            $rows = $pdo->query("SELECT broker, topic, message FROM mqtt_loggers WHERE topic = '$topic/m' ORDER BY id")->fetchAll(\PDO::FETCH_NUM);
        } while (count($rows) < 10 && microtime(true) < $deadline && usleep(50_000) === null);
        self::assertSame(array_map(static fn (int $i) => ['default', "$topic/m", "message $i"], range(1, 10)), $rows);
    }

    public function test_connection_state_changes_are_logged(): void
    {
        $broker = Broker::start();
        $daemon = $this->startDaemon(['MQTT_PORT' => (string) $broker->port(), 'MQTT_MAX_RETRY_DELAY' => '1']);

        $broker->stop();
        $daemon->waitForOutput('/Connection default \(mqtt:\/\/127\.0\.0\.1:\d+\): connected -> reconnecting/');
        $broker->resume();
        $daemon->waitForOutput('/Connection default \(mqtt:\/\/127\.0\.0\.1:\d+\): reconnecting -> connected/');

        self::assertMatchesRegularExpression('/testing\.WARNING: Connection default \S+: connected -> reconnecting/', $this->laravelLog());
        self::assertMatchesRegularExpression('/testing\.INFO: Connection default \S+: reconnecting -> connected/', $this->laravelLog());
        $daemon->signal(SIGTERM);
        self::assertSame(0, $daemon->waitForExit(10.0));
    }

    public function test_above_the_memory_threshold_it_exits_with_the_documented_code(): void
    {
        $daemon = $this->startDaemon(['MQTT_MEMORY_THRESHOLD_MB' => '1', 'MQTT_RESTART_DELAY_SECONDS' => '0.5']);

        self::assertSame(Daemon::EXIT_MEMORY, $daemon->waitForExit(10.0));
        self::assertSame(12, Daemon::EXIT_MEMORY);
        self::assertMatchesRegularExpression('/Memory use [\d.]+ MB is above memory.threshold_mb \(1 MB\): stopping with exit code 12/', $daemon->output());
        self::assertStringContainsString('Waiting 0.5 s (memory.restart_delay_seconds) before exiting.', $daemon->output());
    }

    public function test_connections_listening_to_different_topics_each_get_their_own(): void
    {
        $a = $this->topic('a') . '/';
        $b = $this->topic('b') . '/';
        // "default" listens to # below its prefix, "backup" only to alerts/#.
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $a, 'MQTT_BACKUP_PREFIX' => $b], ['--environment=two-brokers']);
        $daemon->awaitSubscription(static::broker(), 'probe', $a);
        $daemon->awaitSubscription(static::broker(), 'alerts/probe', $b);

        static::broker()->mosquittoPub("{$a}sensors/1", 'to default', 1);
        static::broker()->mosquittoPub("{$b}other", 'not for backup', 1);
        static::broker()->mosquittoPub("{$b}alerts/fire", 'to backup', 1);
        $daemon->waitForMessages("{$b}alerts/fire", 1);
        $daemon->waitForMessages("{$a}sensors/1", 1);

        $seen = array_map(
            static fn (array $r) => [$r['broker'], $r['topic'], $r['message']],
            array_values(array_filter($daemon->receivedBy('class', ''), static fn (array $r) => !str_contains($r['topic'], 'probe')))
        );
        self::assertSameMultiset(
            [json_encode(['default', "{$a}sensors/1", 'to default']), json_encode(['backup', "{$b}alerts/fire", 'to backup'])],
            array_map('json_encode', $seen)
        );
    }
}
