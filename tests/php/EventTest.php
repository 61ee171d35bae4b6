<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Event;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * Connection events against a real mosquitto that goes away and comes back:
 * Subscriber::onEvent() from loop() and next(), and Client::events() for
 * code that does not loop.
 *
 * @group protocol
 */
final class EventTest extends MqttTestCase
{
    public function testListenersHearABrokerRestartInOrder(): void
    {
        $broker = Broker::start();
        $client = $this->client($this->options([], $broker));
        $subscriber = new Subscriber([$client]);
        /** @var list<Event> $events */
        $events = [];
        $subscriber->onEvent(function (Event $event) use (&$events): void {
            $events[] = $event;
        });
        $filter = $this->topic('events/#');
        $subscriber->subscribe($filter, 1);
        $this->loopUntil($subscriber, $events, fn (array $events) => in_array('subscribed', $this->types($events), true));

        // A connection that lasted (a second): the reconnect attempts count from 1 again.
        $subscriber->loop(fn () => null, timeout: 1.2);
        $broker->stop();
        $this->loopUntil($subscriber, $events, fn (array $events) => in_array('reconnecting', $this->types($events), true));
        $broker->resume();
        $this->loopUntil($subscriber, $events, fn (array $events) => count(array_keys($this->types($events), 'subscribed')) === 2);

        $types = $this->types($events);
        $this->assertSame(['connecting', 'connected', 'subscribed', 'disconnected'], array_slice($types, 0, 4), json_encode($types));
        $this->assertSame(['connected', 'subscribed'], array_slice($types, -2), 'a clean session subscribes again after the reconnect');
        $reconnecting = array_filter($events, fn (Event $e) => $e->type === 'reconnecting');
        $this->assertNotEmpty($reconnecting);
        $attempts = array_map(fn (Event $e) => $e->attempt, array_values($reconnecting));
        $this->assertSame(range(1, count($attempts)), $attempts, 'attempts count up from 1 after a connection that lasted');

        $disconnected = $events[3];
        $this->assertSame($client->status()['name'], $disconnected->broker);
        $this->assertNotNull($disconnected->reason, 'says why the connection ended');
        $subscribed = $events[2];
        $this->assertSame($filter, $subscribed->filter);
        $this->assertFalse($events[1]->sessionPresent);
        $times = array_map(fn (Event $e) => $e->at, $events);
        $sorted = $times;
        sort($sorted);
        $this->assertSame($sorted, $times, 'in the order they happened');
        $this->assertEqualsWithDelta(microtime(true), end($times), 60.0);
    }

    public function testNextHandsEventsToListenersToo(): void
    {
        $client = $this->client($this->options());
        $subscriber = new Subscriber([$client]);
        $types = [];
        $subscriber->onEvent(function (Event $event) use (&$types): void {
            $types[] = $event->type;
        });
        $this->assertTrue($client->waitConnected(10.0));
        $this->assertNull($subscriber->next(0.2));
        $this->assertSame(['connecting', 'connected'], $types, 'what the connection kept from before onEvent()');
    }

    public function testClientEventsDrainsWhatHappenedSinceTheLastCall(): void
    {
        $client = $this->client($this->options());
        $this->assertTrue($client->waitConnected(10.0));

        $events = $client->events();
        $this->assertSame(['connecting', 'connected'], array_map(fn (Event $e) => $e->type, $events));
        $this->assertSame(1, $events[1]->attempt);
        $this->assertSame([], $client->events(), 'drained');

        $client->close();
        $this->assertSame(['closed'], array_map(fn (Event $e) => $e->type, $client->events()));
    }

    public function testAConnectionThatGivesUpSaysFailedWithTheReason(): void
    {
        $client = $this->client($this->options([
            'port' => Broker::freePort(),
            'reconnect' => ['initial_delay' => 0.05, 'max_delay' => 0.05, 'max_retries' => 2],
        ]));
        $this->assertFalse($client->waitConnected(30.0));

        $events = $client->events();
        $this->assertSame(
            ['connecting', 'reconnecting', 'reconnecting', 'failed'],
            array_map(fn (Event $e) => $e->type, $events)
        );
        $this->assertSame([1, 2, 3, 3], array_map(fn (Event $e) => $e->attempt, $events));
        $this->assertStringContainsString('refused', (string) end($events)->reason);
    }

    /**
     * @param list<Event> $events filled by the subscriber's listener
     * @param callable(list<Event>): bool $done
     */
    private function loopUntil(Subscriber $subscriber, array &$events, callable $done): void
    {
        $deadline = microtime(true) + 20.0;
        while (!$done($events)) {
            $this->assertLessThan($deadline, microtime(true), 'events so far: ' . json_encode($this->types($events)));
            $subscriber->loop(fn () => null, timeout: 0.1);
        }
    }

    /** @param list<Event> $events @return list<string> */
    private function types(array $events): array
    {
        return array_map(fn (Event $e) => $e->type, $events);
    }
}
