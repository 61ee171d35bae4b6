<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * A script that publishes and exits at once still delivers: the module flushes at process end.
 *
 * @group protocol
 */
final class ShutdownFlushTest extends MqttTestCase
{
    /** @return iterable<string, array{int}> */
    public static function qosLevels(): iterable
    {
        yield 'QoS 1' => [1];
        yield 'QoS 0' => [0];
        yield 'QoS 2' => [2];
    }

    /** @dataProvider qosLevels */
    public function testMessagesPublishedJustBeforeExitArrive(int $qos): void
    {
        $topic = $this->topic("exit-qos$qos");
        $listener = $this->listen($topic, null, 2);

        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'exiting');
            for ($i = 0; $i < 100; $i++) {
                $client->publish(%s, "exit-$i", %d);
            }
            echo "published\n";
            PHP, var_export($this->options(), true), var_export($topic, true), $qos));

        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertSame("published\n", $result->stdout, $result->describe());
        $expected = array_map(fn ($i) => "exit-$i", range(0, 99));
        $listener->waitFor(100);
        $listener->sync();
        $received = $listener->payloads();
        $this->assertSame([], array_values(array_diff($expected, $received)), 'missing messages');
        if ($qos !== 1) {
            $this->assertSameMultiset($expected, $received, 'QoS 0 and 2 arrive exactly once');
        }
    }

    public function testExitDoesNotHangOnAnUnreachableBroker(): void
    {
        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'stuck');
            $client->publish('test/never', 'undeliverable', 1);
            echo "exiting\n";
            PHP, var_export($this->options([
                'port' => Broker::freePort(),
                'flush_timeout' => 0.5,
            ]), true)), [], 30.0);

        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertSame("exiting\n", $result->stdout, $result->describe());
        $this->assertMatchesRegularExpression('/"stuck".*\b1 messages?\b/', $result->stderr, 'what was left undelivered is reported, not dropped silently');
    }
}
