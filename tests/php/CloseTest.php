<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConnectionException;
use MqttBroadcast\Tests\Support\MqttTestCase;

/** close() flushes, disconnects and makes the handle unusable. */
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
            $this->broker()->logLinesMatching('/Client ' . preg_quote($options['client_id'], '/') . ' disconnected\./'),
            "close() sent DISCONNECT:\n" . $this->broker()->log()
        );
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
