<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * MQTT 5 subscription options of Subscriber::subscribe() and route() against a
 * real mosquitto: no_local keeps the connection's own publishes away,
 * retain_handling 2 skips retained messages, retain_as_published keeps the
 * retain flag of live messages; bad options, and options on MQTT 3.1.1.
 */
final class SubscriptionOptionsTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testNoLocalDoesNotEchoTheConnectionsOwnPublishes(): void
    {
        $topic = $this->topic('echo');
        $listener = $this->listen($topic);
        $client = $this->connected($this->v5(['qos' => 1]));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($topic, 1, self::WAIT, ['no_local' => true]);
        $routed = [];
        $subscriber->route($this->topic('routed/{id}'), function (Message $m, array $p) use (&$routed): void {
            $routed[] = $m->payload;
        }, 1, ['no_local' => true]);
        $other = $this->connected($this->v5(['qos' => 1]));

        $client->publishSync($topic, 'own', 1, false, self::WAIT);
        $client->publishSync($this->topic('routed/1'), 'own routed', 1, false, self::WAIT);
        $other->publishSync($topic, 'other', 1, false, self::WAIT);
        $other->publishSync($this->topic('routed/2'), 'other routed', 1, false, self::WAIT);

        $listener->waitFor(2);
        $this->assertSame(['own', 'other'], $listener->payloads(), 'both were published');
        $received = array_map(static fn (Message $m): string => $m->payload, $this->collect($subscriber, 1, 'the other connection\'s message'));
        $subscriber->loop(null, 1.0);
        $this->assertNull($subscriber->next(0.5));
        $this->assertSame(['other'], $received, 'no_local: the own publish is not echoed');
        $this->assertSame(['other routed'], $routed, 'route() with no_local');
    }

    public function testRetainHandling2SkipsRetainedMessages(): void
    {
        $topic = $this->topic('retained');
        $publisher = $this->connected($this->v5(['qos' => 1]));
        $publisher->publishSync($topic, 'kept by the broker', 1, true, self::WAIT);

        $skipping = new Subscriber([$this->connected($this->v5())]);
        $skipping->subscribe($topic, 1, self::WAIT, ['retain_handling' => 2]);
        $sending = new Subscriber([$this->connected($this->v5())]);
        $sending->subscribe($topic, 1, self::WAIT, ['retain_handling' => 0]);

        $retained = $this->collect($sending, 1, 'the retained message, with retain_handling 0')[0];
        $this->assertSame('kept by the broker', $retained->payload);
        $this->assertTrue($retained->retain);
        $this->assertNull($skipping->next(1.0), 'retain_handling 2: no retained message');

        $publisher->publishSync($topic, 'live', 1, false, self::WAIT);
        $this->assertSame('live', $this->collect($skipping, 1, 'a live message')[0]->payload);
        $publisher->publishSync($topic, '', 1, true, self::WAIT);
    }

    public function testRetainAsPublishedKeepsTheRetainFlagOfLiveMessages(): void
    {
        $topic = $this->topic('flag');
        $as = new Subscriber([$this->connected($this->v5())]);
        $as->subscribe($topic, 1, self::WAIT, ['retain_as_published' => true, 'retain_handling' => 2]);
        $plain = new Subscriber([$this->connected($this->v5())]);
        $plain->subscribe($topic, 1, self::WAIT, ['retain_handling' => 2]);

        $publisher = $this->connected($this->v5(['qos' => 1]));
        $publisher->publishSync($topic, 'retained, live', 1, true, self::WAIT);
        $this->assertTrue($this->collect($as, 1, 'retain_as_published')[0]->retain);
        $this->assertFalse($this->collect($plain, 1, 'without it')[0]->retain);
        $publisher->publishSync($topic, '', 1, true, self::WAIT);
    }

    public function testBadOptionsAndOptionsOnMqtt311SayWhy(): void
    {
        $v5 = new Subscriber([$this->client($this->v5())]);
        $v311 = new Subscriber([$this->client($this->options(['protocol' => '3.1.1']))]);
        $topic = $this->topic('x');
        $cases = [
            [$v5, ['retain_handling' => 3], 'argument #4 ($options) entry "retain_handling" must be 0 (send retained messages at every subscribe), 1 (only when the subscription is new) or 2 (never), got 3'],
            [$v5, ['no_local' => 1], 'argument #4 ($options) entry "no_local" must be a bool, got 1'],
            [$v5, ['retain_as_published' => 'yes'], 'argument #4 ($options) entry "retain_as_published" must be a bool, got "yes"'],
            [$v5, ['nolocal' => true], 'argument #4 ($options) has an unknown subscription option "nolocal" (did you mean "no_local"?); known: no_local, retain_as_published, retain_handling'],
            [$v311, ['no_local' => true], 'argument #4 ($options) needs a connection with option "protocol" => "5"; this one speaks MQTT 3.1.1'],
        ];
        foreach ($cases as [$subscriber, $options, $expected]) {
            try {
                $subscriber->subscribe($topic, 1, 1.0, $options);
                $this->fail('subscribe() took ' . json_encode($options));
            } catch (\ValueError $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
        try {
            $v5->subscribe('$share/group/' . $topic, 1, 1.0, ['no_local' => true]);
            $this->fail('no_local on a shared subscription');
        } catch (\ValueError $e) {
            $this->assertSame('argument #4 ($options) entry "no_local" cannot be set on a shared subscription ($share/...): MQTT 5 forbids it', $e->getMessage());
        }
        try {
            $v5->route($topic . '/{id}', fn () => null, 1, ['retain_handling' => -1]);
            $this->fail('route() took retain_handling -1');
        } catch (\ValueError $e) {
            $this->assertStringStartsWith('argument #4 ($options) entry "retain_handling" must be 0', $e->getMessage());
        }
        // Defaults are fine everywhere.
        $v311->subscribe($topic, 1, 1.0, []);
        $v311->subscribe($topic, 1, 1.0, ['no_local' => false, 'retain_handling' => 0]);
    }

    private function connected(array $options): Client
    {
        $client = $this->client($options);
        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        return $client;
    }

    private function v5(array $overrides = []): array
    {
        return $this->options(array_replace(['protocol' => '5'], $overrides));
    }
}
