<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * publishSync() at every QoS, exact payloads, retained messages and the topic prefix.
 *
 * @group protocol
 */
final class PublishSyncTest extends MqttTestCase
{
    public function testEveryQosArrives(): void
    {
        $listener = $this->listen($this->topic('#'), null, 2);
        $client = $this->client($this->options());

        foreach ([0, 1, 2] as $qos) {
            $client->publishSync($this->topic("qos$qos"), "payload at QoS $qos", $qos);
        }

        $this->assertSameMultiset(
            [$this->topic('qos0') . ' payload at QoS 0', $this->topic('qos1') . ' payload at QoS 1', $this->topic('qos2') . ' payload at QoS 2'],
            array_map(fn (array $m) => "$m[0] $m[1]", $listener->waitFor(3))
        );
        $status = $client->status();
        $this->assertSame(3, $status['published']);
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
    }

    public function testBinaryPayloadsArriveByteExact(): void
    {
        $topic = $this->topic('binary');
        $listener = $this->listen($topic);
        $client = $this->client($this->options());
        $payloads = [
            implode('', array_map('chr', range(0, 255))),
            "\0leading and trailing nul\0",
            "a\0b\0\0c",
            str_repeat("\xff\x00\x7f", 1000),
        ];

        foreach ($payloads as $payload) {
            $client->publishSync($topic, $payload, 1);
        }

        $listener->waitFor(count($payloads));
        $listener->sync();
        $this->assertSame($payloads, $listener->payloads());
    }

    public function testRetainedMessageReachesALaterSubscriber(): void
    {
        $topic = $this->topic('retained');
        $client = $this->client($this->options());

        $client->publishSync($topic, 'kept by the broker', 1, true);
        $client->publishSync($this->topic('not-retained'), 'gone', 1, false);

        $later = $this->listen($this->topic('#'));
        $later->sync();
        $this->assertSame([[$topic, 'kept by the broker']], $later->messages());
    }

    public function testQosAndRetainOptionsAreThePublishDefaults(): void
    {
        $topic = $this->topic('defaults');
        $client = $this->client($this->options(['qos' => 1, 'retain' => true]));

        $client->publishSync($topic, 'retained by default');

        $later = $this->listen($topic);
        $this->assertSame([[$topic, 'retained by default']], $later->waitFor(1));
    }

    public function testPrefixIsPrependedToEveryTopic(): void
    {
        $prefix = $this->topic('tenant-a/');
        $listener = $this->listen($this->topic('#'));
        $client = $this->client($this->options(['prefix' => $prefix]));

        $client->publishSync('sensors/door', 'open', 1);
        $client->publish('sensors/window', 'closed', 1);
        $this->assertTrue($client->flush(10));

        $this->assertSameMultiset(
            ["{$prefix}sensors/door open", "{$prefix}sensors/window closed"],
            array_map(fn (array $m) => "$m[0] $m[1]", $listener->waitFor(2))
        );
    }
}
