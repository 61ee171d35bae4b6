<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConnectionException;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * close() flushes, disconnects and makes the handle unusable.
 *
 * @group protocol
 */
final class CloseTest extends MqttTestCase
{
    public function testCloseFlushesThenRefusesFurtherPublishing(): void
    {
        $topic = $this->topic('close');
        $listener = $this->listen($topic);
        $options = $this->options();
        $name = 'closing-' . $this->uniq();
        $client = $this->client($options, $name);

        $expected = [];
        for ($i = 0; $i < 50; $i++) {
            $client->publish($topic, "before-close-$i", $i % 3);
            $expected[] = "before-close-$i";
        }
        $client->close();

        $this->assertSame('closed', $client->status()['state']);
        $this->assertFalse($client->status()['connected']);
        $this->assertArrayNotHasKey($name, Client::connections(), 'a closed connection is not live');
        try {
            $client->publish($topic, 'after close', 1);
            $this->fail('publish() after close() did not throw');
        } catch (ConnectionException $e) {
            $this->assertNotSame('', $e->getMessage());
        }
        try {
            $client->publishSync($topic, 'after close', 1);
            $this->fail('publishSync() after close() did not throw');
        } catch (ConnectionException $e) {
            $this->assertNotSame('', $e->getMessage());
        }

        $listener->waitFor(50);
        $listener->sync();
        $this->assertSameMultiset($expected, $listener->payloads(), 'everything published before close() arrived, nothing after');
        $this->assertNotEmpty(
            $this->broker()->disconnects($options['client_id']),
            "close() sent DISCONNECT:\n" . $this->broker()->log()
        );
    }

    /**
     * After DISCONNECT, close() ends its half of the connection and reads until
     * the broker ends its own (the built-in broker waits for the client to
     * close): the broker reads a DISCONNECT, not a reset, and keeps the will.
     */
    public function testCloseEndsTheConnectionWithADisconnectTheBrokerReads(): void
    {
        $willTopic = $this->topic('will');
        $will = $this->listen($willTopic);
        foreach (['3.1.1', '5'] as $protocol) {
            $options = $this->options(['protocol' => $protocol, 'will' => ['topic' => $willTopic, 'payload' => 'gone']]);
            $client = $this->client($options);
            $client->publishSync($this->topic('before-close'), 'x', 1, false, 10.0);
            $client->close();
            $deadline = microtime(true) + 10.0;
            while ($this->broker()->connectionEnds($options['client_id']) === [] && microtime(true) < $deadline) {
                usleep(10_000);
            }
            $this->assertCount(1, $this->broker()->connectionEnds($options['client_id']), "MQTT $protocol:\n" . $this->broker()->log());
            $this->assertCount(1, $this->broker()->disconnects($options['client_id']), "MQTT $protocol: a DISCONNECT, not a dropped link");
        }
        $will->sync();
        $this->assertSame([], $will->payloads(), 'no will: the broker read the DISCONNECT');
    }

    public function testWhatCloseCouldNotDeliverStaysVisibleAndMovesToTheNextClientOfThatName(): void
    {
        $topic = $this->topic('undelivered');
        $listener = $this->listen($topic);
        $name = 'undeliverable-' . $this->uniq();
        $unreachable = $this->options([
            'port' => \MqttBroadcast\Tests\Support\Broker::freePort(),
            'flush_timeout' => 0.2,
            'reconnect' => ['initial_delay' => 0.05, 'max_delay' => 0.1, 'max_retries' => 1],
        ]);
        $client = $this->client($unreachable, $name);
        $client->publish($topic, 'kept', 1);
        $client->close();

        $this->assertSame(['state' => 'closed', 'queued' => 1], array_intersect_key(Client::connections()[$name], ['state' => 0, 'queued' => 0]));
        $next = $this->client($this->options(), $name);
        $this->assertTrue($next->flush(10));
        $this->assertSame(['kept'], $listener->waitFor(1) ? $listener->payloads() : []);
    }

    public function testCloseTwiceIsHarmlessAndTheHandleStaysClosed(): void
    {
        $client = $this->client($this->options());
        $client->close();
        $client->close();
        $this->assertSame('closed', $client->status()['state']);
        $this->expectException(ConnectionException::class);
        $client->publish($this->topic('after'), 'x');
    }
}
