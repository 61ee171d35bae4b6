<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConnectionException;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;

/** publishSync() reports a connection that failed for good, and times out while one is still being retried. */
final class ConnectionFailureTest extends MqttTestCase
{
    public function testPublishSyncThrowsConnectionExceptionOnceRetriesAreExhausted(): void
    {
        $client = $this->client($this->options([
            'port' => Broker::freePort(),
            'connect_timeout' => 1,
            'flush_timeout' => 0.5,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 2],
        ]));

        try {
            // The timeout is far beyond what 3 refused attempts take: the failure must be reported as such.
            $client->publishSync($this->topic('unreachable'), 'never delivered', 1, null, 30.0);
            $this->fail('publishSync() to a closed port returned');
        } catch (ConnectionException $e) {
            $this->assertNotSame('', $e->getMessage());
        }

        $status = $client->status();
        $this->assertSame('failed', $status['state']);
        $this->assertFalse($status['connected']);
        $this->assertIsString($status['last_error']);
        $this->assertNotSame('', $status['last_error']);
    }

    public function testAConnectionThatFailedKeepsItsMessagesForTheNextClientOfThatName(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('taken-over');
        $listener = $this->listen($topic, $broker);
        $broker->stop();
        $options = $this->options([
            'flush_timeout' => 0.5,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 1],
        ], $broker);
        $name = 'taken-over-' . $this->uniq();
        $failing = $this->client($options, $name);
        $failing->publish($topic, 'held-1', 1);
        $failing->publish($topic, 'held-2', 1);
        try {
            $failing->publishSync($topic, 'held-3', 1, null, 30.0);
            $this->fail('publishSync() with the broker down and one retry returned');
        } catch (ConnectionException) {
        }
        try {
            $failing->publish($topic, 'refused', 1);
            $this->fail('publish() on a failed connection did not throw');
        } catch (ConnectionException) {
        }
        $status = $failing->status();
        $this->assertSame('failed', $status['state']);
        $this->assertSame(3, $status['queued'] + $status['in_flight'], 'the undelivered messages stay visible');

        $broker->resume();
        $fresh = $this->client($options, $name);
        $this->assertTrue($fresh->flush(20), 'the fresh connection delivers what the failed one held: ' . json_encode($fresh->status()));
        $listener->waitFor(3);
        $listener->sync();
        $this->assertSameMultiset(['held-1', 'held-2', 'held-3'], array_unique($listener->payloads()));
    }

    public function testAMessageWhosePublishSyncTimedOutIsStillDelivered(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('late');
        $listener = $this->listen($topic, $broker);
        $broker->stop();
        $client = $this->client($this->options([
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 0],
        ], $broker));
        try {
            $client->publishSync($topic, 'late but delivered', 1, null, 0.3);
            $this->fail('publishSync() with the broker down returned');
        } catch (TimeoutException) {
        }

        $broker->resume();
        $this->assertTrue($client->flush(20));
        $this->assertSame([[$topic, 'late but delivered']], $listener->waitFor(1));
    }

    public function testPublishSyncTimesOutWhileTheBrokerIsDownAndRetriesGoOn(): void
    {
        $broker = Broker::start();
        $broker->stop();
        $client = $this->client($this->options([
            'flush_timeout' => 0.5,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 0],
        ], $broker));

        try {
            $client->publishSync($this->topic('down'), 'waits for the broker', 1, null, 0.5);
            $this->fail('publishSync() with the broker down returned');
        } catch (TimeoutException $e) {
            $this->assertNotSame('', $e->getMessage());
        }

        $status = $client->status();
        $this->assertContains($status['state'], ['connecting', 'reconnecting'], 'still trying, not failed');
        $this->assertFalse($status['connected']);
    }

    public function testPublishSyncDefaultsToTheFlushTimeout(): void
    {
        $broker = Broker::start();
        $broker->stop();
        $client = $this->client($this->options(['flush_timeout' => 0.3], $broker));

        $this->expectException(TimeoutException::class);
        $client->publishSync($this->topic('default-timeout'), 'waits for the broker', 1);
    }
}
