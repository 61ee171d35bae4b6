<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\QueueFullException;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * A full outbox throws instead of dropping.
 *
 * @group protocol
 */
final class QueueFullTest extends MqttTestCase
{
    public function testPublishBeyondMaxQueueThrowsAndKeepsWhatWasQueued(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('full');
        $listener = $this->listen($topic, $broker);
        $broker->stop();
        $client = $this->client($this->options(['max_queue' => 5], $broker));

        for ($i = 1; $i <= 5; $i++) {
            $client->publish($topic, "queued-$i", 1);
        }
        try {
            $client->publish($topic, 'one too many', 1);
            $this->fail('the 6th publish() into a queue of 5 did not throw');
        } catch (QueueFullException $e) {
            $this->assertNotSame('', $e->getMessage());
        }
        $status = $client->status();
        $this->assertSame(5, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
        $this->assertFalse($status['connected']);

        // Nothing silently dropped: once the broker is back exactly the five queued messages arrive.
        $broker->resume();
        $this->assertTrue($client->flush(20), 'flush after the broker came back: ' . json_encode($client->status()));
        $listener->waitFor(5);
        $listener->sync();
        $this->assertSameMultiset(
            ['queued-1', 'queued-2', 'queued-3', 'queued-4', 'queued-5'],
            array_unique($listener->payloads())
        );
    }

    public function testQueueFullAlsoAppliesAtQos0(): void
    {
        $client = $this->client($this->options([
            'port' => Broker::freePort(),
            'max_queue' => 3,
            'flush_timeout' => 0.5,
        ]));
        for ($i = 1; $i <= 3; $i++) {
            $client->publish($this->topic('qos0'), "queued-$i", 0);
        }
        $this->expectException(QueueFullException::class);
        try {
            $client->publish($this->topic('qos0'), 'one too many', 0);
        } finally {
            $this->assertSame(3, $client->status()['queued']);
        }
    }
}
