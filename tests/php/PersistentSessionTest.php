<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpResult;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * clean_session => false with a fixed client_id: the broker keeps the
 * subscriptions and the QoS 1 messages published while the subscribing process
 * is away, and the next process with that id receives every one of them.
 *
 * @group protocol
 */
final class PersistentSessionTest extends MqttTestCase
{
    private const MESSAGES = 5;

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
        $first = $this->runSubscriber($options, $filter, true, 0, true);
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

        $second = $this->runSubscriber($options, $filter, $subscribeAgain, self::MESSAGES, false);
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
     * A child process with the connection and a Mqtt\Subscriber: waits until
     * connected and subscribes when asked, collects messages until it has $expect of them (or none arrives
     * for a while), prints them as JSON [[topic, payload], ...] and exits normally.
     */
    private function runSubscriber(array $options, string $filter, bool $subscribe, int $expect, bool $awaitConnection): PhpResult
    {
        return PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'session');
            $subscriber = new Mqtt\Subscriber([$client]);
            $deadline = microtime(true) + 10.0;
            while (%s && !$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(10_000);
            }
            if (%s) {
                $subscriber->subscribe(%s, qos: 1);
            }
            $received = [];
            $deadline = microtime(true) + 10.0;
            while (count($received) < %d && microtime(true) < $deadline) {
                $message = $subscriber->next(timeout: 2.0);
                if ($message !== null) {
                    $received[] = [$message->topic, $message->payload];
                }
            }
            echo json_encode($received);
            PHP, var_export($options, true), var_export($awaitConnection, true), var_export($subscribe, true), var_export($filter, true), $expect), [], 60.0);
    }
}
