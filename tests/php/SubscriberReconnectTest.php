<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * Broker restarts under a Subscriber: subscriptions come back, a persistent session loses nothing.
 *
 * @group protocol
 */
final class SubscriberReconnectTest extends MqttTestCase
{
    public function testSubscriptionsComeBackAfterABrokerRestart(): void
    {
        $broker = Broker::start();
        $client = $this->connectedClient($this->options([], $broker));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('first/#'), 1);
        $subscriber->subscribe($this->topic('second'), 0);
        $broker->mosquittoPub($this->topic('first/x'), 'before');
        $this->assertSame('before', $this->receive($subscriber, $broker)->payload);

        $clientId = $client->status()['client_id'];
        $subscribesBefore = count($broker->subscribes($clientId));
        $broker->restart();

        // A clean session: the broker forgot the subscriptions, the extension makes them again.
        $this->assertSame('first', $this->publishUntilReceived($subscriber, $broker, $this->topic('first/y'), 'first'));
        $broker->mosquittoPub($this->topic('second'), 'second-after', 0);
        $this->assertSame('second-after', $this->receive($subscriber, $broker)->payload);
        $this->assertGreaterThanOrEqual(1, $client->status()['reconnects']);

        $subscribes = array_slice($broker->subscribes($clientId), $subscribesBefore);
        $this->assertCount(2, $subscribes, "one SUBSCRIBE per filter after the restart:\n" . Failure::tail($broker->log(), 40));
    }

    /**
     * Mosquitto 2.0 restores a persistent session from its persistence file
     * without its shared subscriptions, and says the session is present: the
     * extension makes shared subscriptions again after every reconnect.
     */
    public function testASharedSubscriptionOfAPersistentSessionComesBackAfterARestart(): void
    {
        $broker = Broker::start();
        $client = $this->connectedClient($this->options(['client_id' => 'shared-' . $this->uniq(), 'clean_session' => false], $broker));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe('$share/workers/' . $this->topic('jobs'), 1);
        $broker->mosquittoPub($this->topic('jobs'), 'before');
        $this->assertSame('before', $this->receive($subscriber, $broker)->payload);

        $broker->restart();

        // "before" may come again (at least once): its acknowledgement was due at the next call.
        $deadline = microtime(true) + 20;
        $received = [];
        while (!in_array('after', $received, true) && microtime(true) < $deadline) {
            $broker->mosquittoPub($this->topic('jobs'), 'after');
            while (($message = $subscriber->next(0.3)) !== null) {
                $received[] = $message->payload;
            }
        }
        $this->assertContains('after', $received, "the shared subscription is back:\n" . Failure::tail($broker->log(), 30));
        $this->assertTrue($client->status()['session_present'], 'the broker said it kept the session');
    }

    public function testPersistentSessionLosesNoQos1MessageAcrossARestartAndIsNotSubscribedTwice(): void
    {
        $broker = Broker::start();
        $broker->requireMosquitto('keeping across a restart the messages queued for a connected client (rmqtt keeps those of a client that is away)');
        $subscriberId = 'sub-' . $this->uniq();
        $client = $this->connectedClient($this->options(['client_id' => $subscriberId, 'clean_session' => false], $broker));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('stream/+'), 1);
        $publisher = $this->client($this->options(['max_queue' => 100_000, 'qos' => 1], $broker));

        $expected = [];
        $publish = function (int $count, string $phase) use ($publisher, &$expected): void {
            for ($i = 0; $i < $count; $i++) {
                $payload = "$phase-$i";
                $publisher->publish($this->topic('stream/' . ($i % 3)), $payload);
                $expected[] = $payload;
            }
        };
        $seen = [];
        $consume = function (int $count) use ($subscriber, &$seen, $broker): void {
            for ($i = 0; $i < $count; $i++) {
                $seen[$this->receive($subscriber, $broker)->payload] = true;
            }
        };

        $publish(2000, 'before');
        $consume(500);

        $broker->stop();
        // The publisher queues while the broker is down; the subscriber's inbox still holds some.
        $publish(1000, 'during');
        // What the inbox still holds reaches PHP; its acknowledgements have no connection to go to.
        for ($i = 0; $i < 5 && ($message = $subscriber->next(0.1)) !== null; $i++) {
            $seen[$message->payload] = true;
        }
        $broker->resume();
        $publish(1000, 'after');

        $deadline = microtime(true) + 60;
        while (count(array_diff_key(array_flip($expected), $seen)) > 0 && microtime(true) < $deadline) {
            $message = $subscriber->next(0.5);
            if ($message !== null) {
                $seen[$message->payload] = true;
            }
        }
        $missing = array_keys(array_diff_key(array_flip($expected), $seen));
        $this->assertSame([], array_slice($missing, 0, 20), sprintf(
            "%d of %d QoS 1 messages never arrived; publisher: %s; subscriber: %s\nbroker log:\n%s",
            count($missing),
            count($expected),
            json_encode($publisher->status()),
            json_encode($client->status()),
            Failure::tail($broker->log(), 40)
        ));
        $this->assertSame([], array_values(array_diff(array_keys($seen), $expected)), 'nothing arrived that was not published');
        $this->assertTrue($publisher->flush(20));
        $this->assertGreaterThanOrEqual(1, $client->status()['reconnects']);

        // The broker kept the session and its subscription: the extension did not subscribe again.
        $subscribes = $broker->subscribes($subscriberId);
        $this->assertCount(1, $subscribes, 'SUBSCRIBE sent once, not again after reconnecting to the kept session');
        $this->assertSame(2, $broker->connectionCount($subscriberId));
    }

    public function testSubscribingWhileTheBrokerIsDownTakesEffectOnceItIsBack(): void
    {
        $broker = Broker::start();
        $client = $this->connectedClient($this->options([], $broker));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('early'), 1);
        $broker->stop();

        $deadline = microtime(true) + 10;
        while ($client->status()['connected'] && microtime(true) < $deadline) {
            usleep(10_000);
        }
        $this->assertFalse($client->status()['connected'], 'the client noticed the outage');
        // Nothing to wait for while disconnected: it is sent on connect.
        $subscriber->subscribe($this->topic('late'), 1, 5.0);

        $broker->resume();
        $this->assertSame('late', $this->publishUntilReceived($subscriber, $broker, $this->topic('late'), 'late'));
        $broker->mosquittoPub($this->topic('early'), 'early-after');
        $this->assertSame('early-after', $this->receive($subscriber, $broker)->payload);
    }

    public function testASubscriberGoneFromAPersistentConnectionDoesNotStallTheOthers(): void
    {
        $broker = Broker::start();
        $clientId = 'shared-' . $this->uniq();
        $client = $this->connectedClient($this->options(['client_id' => $clientId, 'clean_session' => false], $broker));
        $gone = new Subscriber([$client]);
        $gone->subscribe($this->topic('gone'), 1);
        $staying = new Subscriber([$client]);
        $staying->subscribe($this->topic('staying'), 1);
        unset($gone);

        // Messages for the subscriber that went away, more than mosquitto sends unacknowledged at once (20).
        foreach (range(1, 25) as $i) {
            $broker->mosquittoPub($this->topic('gone'), "unclaimed-$i");
        }
        $broker->mosquittoPub($this->topic('staying'), 'for the one still here');

        $message = $staying->next(10.0);
        $this->assertNotNull($message, "the remaining subscriber of the connection got nothing\nbroker log of the connection:\n"
            . Failure::tail(implode("\n", $broker->logLinesMatching('/' . preg_quote($clientId, '/') . '/')), 12));
        $this->assertSame('for the one still here', $message->payload);
    }

    /**
     * Publishes "<marker>" every few hundred milliseconds until a message
     * arrives (the subscription is back) and returns the first payload received.
     */
    private function publishUntilReceived(Subscriber $subscriber, Broker $broker, string $topic, string $marker): string
    {
        $deadline = microtime(true) + 20;
        while (microtime(true) < $deadline) {
            $broker->mosquittoPub($topic, $marker);
            $message = $subscriber->next(0.3);
            if ($message !== null) {
                // Markers published before the subscription came back may follow: drain them.
                while ($subscriber->next(0.3) !== null) {
                }
                return $message->payload;
            }
        }
        Failure::raise("no message on $topic arrived within 20 s after the restart\nbroker log:\n" . Failure::tail($broker->log(), 40));
    }

    private function receive(Subscriber $subscriber, Broker $broker): Message
    {
        $message = $subscriber->next(20.0);
        if ($message === null) {
            Failure::raise("no message within 20 s\nbroker log:\n" . Failure::tail($broker->log(), 40));
        }
        return $message;
    }

    private function connectedClient(array $options, ?string $name = null): Client
    {
        $client = $this->client($options, $name);
        $deadline = microtime(true) + 10;
        while (!$client->status()['connected']) {
            if (microtime(true) >= $deadline) {
                $this->fail('not connected within 10 s: ' . json_encode($client->status()));
            }
            usleep(5_000);
        }
        return $client;
    }
}
