<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Listener;
use MqttBroadcast\Tests\Support\PhpScript;
use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;

/** The test support itself: a real mosquitto, an exact independent subscriber, child PHP processes. */
final class SupportTest extends TestCase
{
    public function testListenerReceivesMosquittoPubMessagesByteExact(): void
    {
        $broker = Broker::start();
        $listener = Listener::start($broker, 'support/exact/#');
        $binary = implode('', array_map('chr', range(0, 255)));

        $broker->mosquittoPub('support/exact/text', 'hello world');
        $broker->mosquittoPub('support/exact/binary', $binary);
        $broker->mosquittoPub('support/exact/with space', "line\nbreak \0 nul");
        $broker->mosquittoPub('support/other', 'not for this filter');

        $this->assertSame([
            ['support/exact/text', 'hello world'],
            ['support/exact/binary', $binary],
            ['support/exact/with space', "line\nbreak \0 nul"],
        ], $listener->waitFor(3));
        $listener->sync();
        $this->assertCount(3, $listener->messages(), 'probe messages and other topics stay out');
    }

    public function testPersistentListenerKeepsReceivingAcrossARestart(): void
    {
        $broker = Broker::start();
        $port = $broker->port();
        $listener = Listener::start($broker, 'support/restart/#');
        $broker->mosquittoPub('support/restart/a', 'before');
        $listener->waitFor(1);

        $broker->stop();
        $this->assertFalse($broker->isRunning());
        $this->assertFalse(@stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 0.5), 'port closed while stopped');
        usleep(3_000_000);
        $broker->resume();
        $this->assertSame($port, $broker->port());
        // Published before the listener is back: kept in its persistent session.
        $broker->mosquittoPub('support/restart/b', 'after');

        $this->assertSame(['before', 'after'], array_column($listener->waitFor(2), 1));
        $this->assertSame(2, $broker->connectionCount($listener->clientId()), "listener reconnected once:\n" . $broker->log());
    }

    public function testListenerWaitForFailsSayingHowManyArrived(): void
    {
        $broker = Broker::start();
        $listener = Listener::start($broker, 'support/count/#');
        $broker->mosquittoPub('support/count/x', 'only one');
        try {
            $listener->waitFor(2, 1.0);
        } catch (AssertionFailedError $e) {
            $this->assertStringContainsString('expected at least 2 message(s)', $e->getMessage());
            $this->assertStringContainsString('1 arrived', $e->getMessage());
            return;
        }
        $this->fail('waitFor(2) returned with one message');
    }

    public function testBrokerStartFailsClearlyOnBadConfig(): void
    {
        try {
            Broker::start(['no_such_option 1']);
        } catch (AssertionFailedError $e) {
            $this->assertStringContainsString('no_such_option', $e->getMessage(), 'the log tail is in the message');
            return;
        }
        $this->fail('mosquitto started with an invalid config');
    }

    public function testPhpScriptReportsExitCodeAndOutputsWithTheExtensionLoaded(): void
    {
        $result = PhpScript::run('echo extension_loaded("mqtt_broadcast") ? "loaded" : "missing"; fwrite(STDERR, "err"); exit(7);');
        $this->assertSame(7, $result->exitCode);
        $this->assertSame('loaded', $result->stdout);
        $this->assertSame('err', $result->stderr);
    }

    public function testPhpScriptKillsAHangingScriptAndItsChildren(): void
    {
        $pidFile = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-pid-');
        try {
            PhpScript::run(sprintf('if (pcntl_fork() === 0) { file_put_contents(%s, getmypid()); } sleep(60);', var_export($pidFile, true)), [], 1.0);
        } catch (AssertionFailedError $e) {
            $this->assertStringContainsString('did not finish within 1s', $e->getMessage());
            $childPid = (int) file_get_contents($pidFile);
            unlink($pidFile);
            $this->assertGreaterThan(0, $childPid);
            usleep(100_000);
            $this->assertFalse(self::isAlive($childPid), 'the forked child was killed too');
            return;
        }
        $this->fail('a script sleeping 60s finished within the 1s timeout');
    }

    /** Running, as opposed to gone or a zombie nobody reaped yet. */
    private static function isAlive(int $pid): bool
    {
        $stat = @file_get_contents("/proc/$pid/stat");
        return $stat !== false && !preg_match('/^\d+ \(.*\) Z /s', $stat);
    }
}
