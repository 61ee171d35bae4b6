<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Event;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\RabbitCluster;

/**
 * `servers` against a real clustered broker: three RabbitMQ nodes with the MQTT
 * plugin. The node the publisher is on is SIGKILLed in the middle of a steady
 * QoS 1 stream; the publisher fails over to the next node, and a subscriber
 * with a persistent session on the third node gets every message at least once.
 * Prints (on stderr) how long it took from the kill to the first message
 * through the next node, and how many messages arrived twice.
 *
 * @group cluster
 */
final class ClusterTest extends MqttTestCase
{
    private const INTERVAL_US = 5_000;
    private const BEFORE_KILL = 300;
    private const AFTER_FAILOVER = 300;

    /** What the subscriber printed: "<arrival time> <payload>" lines. */
    private string $subscriberOutput;

    protected function setUp(): void
    {
        $this->subscriberOutput = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-cluster-sub-');
    }

    protected function tearDown(): void
    {
        parent::tearDown();
        @unlink($this->subscriberOutput);
    }

    public function testAClientFailsOverWhenItsNodeIsKilledAndNothingIsLost(): void
    {
        if (($reason = RabbitCluster::unavailable()) !== null) {
            $this->markTestSkipped($reason);
        }
        $cluster = RabbitCluster::start(3);
        $topic = $this->topic('orders');
        $subscriber = $this->persistentSubscriber($cluster->mqttPort(3), $topic);

        $options = $this->options([
            'servers' => [$cluster->server(1), $cluster->server(2), $cluster->server(3)],
            'qos' => 1,
        ]);
        unset($options['host'], $options['port']);
        $client = $this->client($options);
        $this->assertTrue($client->waitConnected(15.0), json_encode($client->status()));
        $victim = $cluster->nodeOf($client->status()['server']);
        $this->assertNotSame(3, $victim, 'in order: the first node, not the subscriber\'s');
        $client->events();

        $sent = [];
        $killedAt = null;
        $failedOverAt = null;
        $afterFailover = 0;
        // What the connection went through after the kill, for a failure message.
        $seen = [];
        $started = microtime(true);
        $deadline = $started + 60.0;
        while ($afterFailover < self::AFTER_FAILOVER) {
            $client->publish($topic, $sent[] = 'm-' . count($sent));
            if (count($sent) === self::BEFORE_KILL) {
                $killedAt = microtime(true);
                $cluster->kill($victim);
            }
            foreach ($client->events() as $event) {
                if ($killedAt === null) {
                    continue;
                }
                $seen[] = sprintf('%+.2f s %s%s', $event->at - $killedAt, $event->type, $event->reason === null ? '' : ": $event->reason");
                if ($event->type === 'connected') {
                    $failedOverAt ??= $event->at;
                }
            }
            if ($failedOverAt !== null) {
                $afterFailover++;
            }
            if (microtime(true) > $deadline) {
                $this->fail(sprintf(
                    "no failover, and %d messages after it, within 60 s (the kill %.2f s in); events since the kill:\n%s\n%s\n%s",
                    self::AFTER_FAILOVER,
                    $killedAt - $started,
                    implode("\n", $seen),
                    json_encode($client->status()),
                    $cluster->describe()
                ));
            }
            usleep(self::INTERVAL_US);
        }
        $this->assertTrue($client->flush(30.0), json_encode($client->status()));

        $status = $client->status();
        $this->assertNotSame($cluster->server($victim), $status['server'], json_encode($status));
        $this->assertNotNull($status['servers'][$victim - 1]['last_error'], 'the killed node says why it was left');

        $arrivals = $this->waitForAll($subscriber, $sent, $cluster);
        $firstThroughNext = min(array_filter(array_column($arrivals, 0), fn (float $at) => $at >= $failedOverAt));
        $duplicated = count($arrivals) - count(array_unique(array_column($arrivals, 1)));
        fwrite(STDERR, sprintf(
            "\nClusterTest: %d QoS 1 messages at one per %d ms, node %d of 3 SIGKILLed after %d; failed over to %s in %.2f s;"
            . " first message through it at the subscriber %.2f s after the kill; %d duplicated\n",
            count($sent),
            self::INTERVAL_US / 1000,
            $victim,
            self::BEFORE_KILL,
            $status['server'],
            $failedOverAt - $killedAt,
            $firstThroughNext - $killedAt,
            $duplicated
        ));
    }

    /**
     * mosquitto_sub with a persistent session (clean session false, QoS 1) on a node,
     * printing each message's arrival time with it. Its session and subscription
     * exist before this returns: a first mosquitto_sub makes them and exits (-E).
     */
    private function persistentSubscriber(int $port, string $topic): BackgroundProcess
    {
        $options = ['mosquitto_sub', '-h', '127.0.0.1', '-p', (string) $port, '-i', 'sub-' . $this->uniq(), '-c', '-q', '1', '-t', $topic];
        $out = $this->subscriberOutput;
        $subscribe = new BackgroundProcess([...$options, '-E'], $out, $out);
        if (!$subscribe->wait(15.0) || $subscribe->exitCode() !== 0) {
            $this->fail('mosquitto_sub could not subscribe: ' . file_get_contents($out));
        }
        return new BackgroundProcess([...$options, '-F', '%U %p'], $out, $out);
    }

    /**
     * Waits until every sent payload arrived at least once.
     *
     * @param list<string> $sent
     * @return list<array{0: float, 1: string}> [arrival time, payload] of every message that arrived
     */
    private function waitForAll(BackgroundProcess $subscriber, array $sent, RabbitCluster $cluster): array
    {
        $deadline = microtime(true) + 30.0;
        while (true) {
            $arrivals = [];
            foreach (file($this->subscriberOutput, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) ?: [] as $line) {
                [$at, $payload] = explode(' ', $line, 2) + [1 => ''];
                $arrivals[] = [(float) $at, $payload];
            }
            $missing = array_values(array_diff($sent, array_column($arrivals, 1)));
            if ($missing === []) {
                return $arrivals;
            }
            if (microtime(true) > $deadline || !$subscriber->isRunning()) {
                Failure::raise(sprintf(
                    "%d of %d messages never reached the subscriber, first ones: %s\nnode 3:\n%s",
                    count($missing),
                    count($sent),
                    implode(', ', array_slice($missing, 0, 20)),
                    Failure::tail($cluster->log(3), 20)
                ));
            }
            usleep(100_000);
        }
    }
}
