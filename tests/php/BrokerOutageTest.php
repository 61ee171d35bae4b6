<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * A broker outage while publishing: publish() keeps returning, the queue holds, everything arrives after.
 *
 * @group protocol
 */
final class BrokerOutageTest extends MqttTestCase
{
    public function testMessagesPublishedDuringAnOutageArriveAfterTheBrokerIsBack(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('outage');
        $listener = $this->listen($topic, $broker);
        $client = $this->client($this->options([
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.5, 'max_retries' => 0],
        ], $broker));

        $expected = [];
        $publish = function () use ($client, $topic, &$expected): void {
            $payload = 'outage-' . count($expected);
            $client->publish($topic, $payload, 1);
            $expected[] = $payload;
        };

        for ($i = 0; $i < 100; $i++) {
            $publish();
            usleep(5_000);
        }

        $broker->stop();
        $sawQueued = false;
        $sawReconnecting = false;
        $states = [];
        $outageEnds = microtime(true) + 3.0;
        while (microtime(true) < $outageEnds) {
            $publish();
            $status = $client->status();
            $sawQueued = $sawQueued || $status['queued'] > 0;
            $sawReconnecting = $sawReconnecting || $status['state'] === 'reconnecting';
            $states[$status['state']] = true;
            usleep(10_000);
        }
        $this->assertTrue($sawQueued, 'status()[queued] stayed 0 while the broker was down');
        $this->assertTrue($sawReconnecting, 'state never was "reconnecting" during the outage; states seen: ' . implode(', ', array_keys($states)));
        $this->assertFalse($client->status()['connected']);

        $broker->resume();
        for ($i = 0; $i < 100; $i++) {
            $publish();
            usleep(5_000);
        }

        $this->assertTrue($client->flush(20), 'flush(20) after the outage: ' . json_encode($client->status()));
        $status = $client->status();
        $this->assertSame('connected', $status['state']);
        $this->assertGreaterThanOrEqual(1, $status['reconnects']);
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
        $this->assertSame(count($expected), $status['published']);

        $broker->requireMosquitto('keeping across a restart what was on its way to a connected subscriber (rmqtt keeps what is queued for a client that is away)');
        $listener->waitFor(count($expected), 30);
        $listener->sync();
        $received = array_unique($listener->payloads());
        $missing = array_diff($expected, $received);
        $this->assertSame([], array_values($missing), sprintf(
            "%d of %d messages never arrived (duplicates are allowed, loss is not)\nbroker log:\n%s",
            count($missing),
            count($expected),
            Failure::tail($broker->log(), 60)
        ));
        $this->assertSame([], array_values(array_diff($received, $expected)), 'nothing arrived that was not published');
    }
}
