<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpResult;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * clean_session => false with a fixed client_id: the broker keeps the
 * subscriptions and the QoS 1 messages published while the subscribing process
 * is away, and the next process with that id receives every one of them:
 * however many the broker sends before the process subscribed, and for each
 * of its subscriptions, made one after the other.
 *
 * @group protocol
 */
final class PersistentSessionTest extends MqttTestCase
{
    private const MESSAGES = 5;
    /** More than a subscriber's inbox or any window a broker should have. */
    private const FLOOD = 3000;

    /**
     * A Subscriber receives what matches its own subscribe() filters, so the
     * restarted process subscribes again; the broker neither duplicates the
     * subscription nor loses what it kept meanwhile.
     *
     * @return iterable<string, array{bool}>
     */
    public static function restarts(): iterable
    {
        yield 'the new process subscribes again' => [true];
    }

    /** @dataProvider restarts */
    public function testQos1MessagesPublishedWhileTheSubscriberIsAwayArriveAfterItsRestart(bool $subscribeAgain): void
    {
        $filter = $this->topic('session/#');
        $options = $this->options([
            'client_id' => 'session-' . $this->uniq(),
            'clean_session' => false,
        ]);

        // subscribe() waits for the SUBACK of connected brokers only: the first
        // process waits until it is connected, so its subscription is confirmed before it exits.
        $first = $this->runSubscriber($options, [$filter], 0, true);
        $this->assertSame(0, $first->exitCode, $first->describe());
        $this->assertSame([], json_decode($first->stdout, true), $first->describe());
        $this->assertNotSame(
            [],
            static::broker()->subscribes($options['client_id']),
            "subscribe() returned before the broker had the subscription:\n" . static::broker()->log()
        );
        $this->assertSame(
            [],
            static::broker()->unsubscribes($options['client_id']),
            "the exiting process unsubscribed, so the broker's session lost its subscription:\n" . static::broker()->log()
        );

        $publisher = $this->client($this->options());
        $expected = [];
        for ($i = 1; $i <= self::MESSAGES; $i++) {
            $topic = $this->topic("session/$i");
            $publisher->publishSync($topic, "while away $i", 1, null, 10.0);
            $expected[] = [$topic, "while away $i"];
        }

        $second = $this->runSubscriber($options, $subscribeAgain ? [$filter] : [], self::MESSAGES, false);
        $this->assertSame(0, $second->exitCode, $second->describe());
        $received = json_decode($second->stdout, true);
        $this->assertIsArray($received, $second->describe());
        // QoS 1 is at least once: a duplicate is allowed, a loss is not.
        $this->assertSame($expected, array_values(array_unique($received, SORT_REGULAR)), $second->describe() . "\nbroker log:\n" . static::broker()->log());
        $this->assertNotSame(
            [],
            static::broker()->persistentSessionConnections($options['client_id']),
            "the processes asked the broker to keep the session:\n" . static::broker()->log()
        );
    }

    /**
     * The broker sends what it kept right after CONNACK, before it reads the
     * SUBSCRIBE, as many as its in-flight window allows: here all of them
     * (max_inflight_messages 0 is no limit; Mosquitto 2.0.11 miscounts its
     * window of 20 and sends thousands too). They all wait for the
     * subscription: one left unacknowledged would not come again on this
     * connection, and the broker would hold it in its window for good.
     */
    public function testEveryKeptMessageWaitsForTheSubscriptionHoweverManyArriveBeforeIt(): void
    {
        $broker = Broker::start(['max_inflight_messages 0', 'max_queued_messages 0']);
        $filter = $this->topic('flood/#');
        $options = $this->options([
            'client_id' => 'session-' . $this->uniq(),
            'clean_session' => false,
            // MQTT 5 clients announce a receive maximum, which the broker keeps to.
            'protocol' => '3.1.1',
        ], $broker);
        $first = $this->runSubscriber($options, [$filter], 0, true);
        $this->assertSame(0, $first->exitCode, $first->describe());

        $publisher = $this->client($this->options([], $broker));
        $expected = [];
        for ($i = 1; $i <= self::FLOOD; $i++) {
            $publisher->publish($topic = $this->topic("flood/$i"), "kept $i", 1);
            $expected[] = [$topic, "kept $i"];
        }
        $this->assertTrue($publisher->flush(30.0), json_encode($publisher->status()));

        // Connected a second before it subscribes: every kept message is there first.
        $second = $this->runSubscriber($options, [$filter], self::FLOOD, true, 1.0);
        $this->assertSame(0, $second->exitCode, $second->describe());
        $received = json_decode($second->stdout, true);
        $this->assertIsArray($received, $second->describe());
        $missing = array_udiff($expected, $received, static fn (array $a, array $b) => $a <=> $b);
        $this->assertSame([], array_slice(array_values($missing), 0, 10), sprintf(
            '%d of the %d kept messages never arrived, %d did; the first missing shown',
            count($missing),
            self::FLOOD,
            count($received)
        ));
    }

    /**
     * A daemon subscribes to its filters one after the other, each call
     * waiting for its SUBACK: what the broker kept for the second filter
     * arrives before the first SUBACK, and waits for the second subscription
     * rather than being taken for a leftover of a subscription that is gone.
     */
    public function testASubscriptionMadeAfterAnotherGetsWhatTheBrokerKeptForIt(): void
    {
        $filters = [$this->topic('orders/#'), $this->topic('invoices/#')];
        $options = $this->options([
            'client_id' => 'session-' . $this->uniq(),
            'clean_session' => false,
        ]);
        $first = $this->runSubscriber($options, $filters, 0, true);
        $this->assertSame(0, $first->exitCode, $first->describe());

        $publisher = $this->client($this->options());
        $expected = [];
        foreach (['orders', 'invoices'] as $kind) {
            for ($i = 1; $i <= self::MESSAGES; $i++) {
                $topic = $this->topic("$kind/$i");
                $publisher->publishSync($topic, "$kind $i", 1, null, 10.0);
                $expected[] = [$topic, "$kind $i"];
            }
        }

        $second = $this->runSubscriber($options, $filters, count($expected), true);
        $this->assertSame(0, $second->exitCode, $second->describe());
        $received = json_decode($second->stdout, true);
        $this->assertIsArray($received, $second->describe());
        $received = array_values(array_unique($received, SORT_REGULAR));
        sort($received);
        sort($expected);
        $this->assertSame($expected, $received, $second->describe() . "\nbroker log:\n" . static::broker()->log());
    }

    /**
     * A child process with the connection and a Mqtt\Subscriber: waits until
     * connected when asked, then for $pause seconds, subscribes to $filters one
     * after the other, collects messages until it has $expect of them (or none
     * arrives for a while), prints them as JSON [[topic, payload], ...] and exits normally.
     *
     * @param list<string> $filters
     */
    private function runSubscriber(array $options, array $filters, int $expect, bool $awaitConnection, float $pause = 0.0): PhpResult
    {
        return PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'session');
            $subscriber = new Mqtt\Subscriber([$client]);
            $deadline = microtime(true) + 10.0;
            while (%s && !$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(10_000);
            }
            usleep(%d);
            foreach (%s as $filter) {
                $subscriber->subscribe($filter, qos: 1);
            }
            $received = [];
            $deadline = microtime(true) + 20.0;
            while (count($received) < %d && microtime(true) < $deadline) {
                $message = $subscriber->next(timeout: 2.0);
                if ($message !== null) {
                    $received[] = [$message->topic, $message->payload];
                }
            }
            echo json_encode($received);
            PHP, var_export($options, true), var_export($awaitConnection, true), (int) ($pause * 1e6), var_export($filters, true), $expect), [], 60.0);
    }
}
