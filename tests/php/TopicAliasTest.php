<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\WireTap;

/**
 * MQTT 5 topic aliases on outgoing publishes (option topic_aliases), against a
 * real mosquitto (whose max_topic_alias is 10 by default), seen on the wire
 * through a WireTap and at an independent subscriber: the first publish of a
 * topic names it with its new alias, the next ones carry the alias alone,
 * the broker's maximum is honoured, and aliases start over with every
 * network connection. Every message arrives whole, on its topic.
 */
final class TopicAliasTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testRepeatedTopicsGoOutAsAliasesAndArriveWhole(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $tap = WireTap::start(static::broker());
        $client = $this->connected($tap, ['prefix' => $prefix, 'topic_aliases' => 2]);

        // QoS 0 and publish() go the caller's way, publishSync() QoS 1 too
        // while nothing is in flight; a burst of QoS 1 the connection's.
        $expected = [];
        foreach (range(1, 4) as $round) {
            foreach (['a', 'b', 'c'] as $topic) {
                $client->publish("t/$topic", "$topic$round-q0", 0);
                $client->publishSync("t/$topic", "$topic$round-q1", 1, false, self::WAIT);
                $expected[] = ["{$prefix}t/$topic", "$topic$round-q0"];
                $expected[] = ["{$prefix}t/$topic", "$topic$round-q1"];
            }
        }
        foreach (range(1, 50) as $i) {
            $client->publish('t/' . ['a', 'b', 'c'][$i % 3], "burst-$i", 1);
            $expected[] = ["{$prefix}t/" . ['a', 'b', 'c'][$i % 3], "burst-$i"];
        }
        $this->assertTrue($client->flush(self::WAIT));

        $listener->waitFor(count($expected));
        $listener->sync();
        $lines = fn (array $messages) => array_map(fn (array $m) => implode(' ', $m), $messages);
        $this->assertSameMultiset($lines($expected), $lines($listener->messages()), 'every message arrived whole, on its topic');
        $this->assertSame(0, $client->status()['reconnects'], 'the broker never closed the connection over an alias');

        $wire = $tap->publishesFromClient();
        $this->assertCount(count($expected), $wire);
        $named = [];
        foreach ($wire as $i => $publish) {
            $alias = $publish['properties']['topic_alias'] ?? null;
            $topic = $publish['topic'] !== '' ? $publish['topic'] : ($named[$alias] ?? null);
            $this->assertNotNull($topic, "#$i: an empty topic only with an alias named before: " . json_encode($publish));
            if ($topic === "{$prefix}t/c") {
                $this->assertNull($alias, "#$i: two aliases wanted, t/c is the third topic");
                continue;
            }
            $this->assertNotNull($alias, "#$i on $topic carries an alias");
            if (!isset($named[$alias])) {
                $this->assertSame($topic, $publish['topic'], "#$i: an alias is named with its topic the first time");
                $named[$alias] = $topic;
            } else {
                $this->assertSame('', $publish['topic'], "#$i: then the alias goes alone");
            }
        }
        $this->assertSame([1 => "{$prefix}t/a", 2 => "{$prefix}t/b"], $named);
    }

    public function testTheBrokersMaximumLimitsTheAliases(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $tap = WireTap::start(static::broker());
        $client = $this->connected($tap, ['prefix' => $prefix, 'topic_aliases' => 1000]);

        foreach ([1, 2] as $round) {
            foreach (range(1, 15) as $topic) {
                $client->publishSync("t/$topic", "$topic-$round", 1, false, self::WAIT);
            }
        }

        $listener->waitFor(30);
        $aliases = array_filter(array_map(fn (array $p) => $p['properties']['topic_alias'] ?? null, $tap->publishesFromClient()));
        $this->assertSame(range(1, 10), array_values(array_unique($aliases)), "mosquitto's max_topic_alias (10) is honoured");
    }

    public function testAliasesStartOverWithANewNetworkConnection(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $tap = WireTap::start(static::broker());
        $client = $this->connected($tap, ['prefix' => $prefix, 'topic_aliases' => 5]);
        $client->publishSync('t/a', 'before-1', 1, false, self::WAIT);
        $client->publishSync('t/a', 'before-2', 1, false, self::WAIT);

        static::broker()->restart();
        $this->assertTrue($client->waitConnected(20.0), json_encode($client->status()));
        $client->publishSync('t/a', 'after-1', 1, false, 20.0);
        $client->publishSync('t/a', 'after-2', 1, false, self::WAIT);

        $listener->waitFor(4);
        $listener->sync();
        // The listener's own QoS 1 session may get one twice across the restart.
        $this->assertSameMultiset(['before-1', 'before-2', 'after-1', 'after-2'], array_values(array_unique($listener->payloads())));
        $seen = array_map(fn (array $p) => [$p['payload'], $p['topic'], $p['properties']['topic_alias'] ?? null], $tap->publishesFromClient());
        $this->assertSame([
            ['before-1', "{$prefix}t/a", 1],
            ['before-2', '', 1],
            ['after-1', "{$prefix}t/a", 1],
            ['after-2', '', 1],
        ], $seen, 'the new connection names the topic again');
    }

    public function testTopicAliasesAreValidatedAndNeedMqtt5(): void
    {
        foreach ([
            [['protocol' => '3.1.1', 'topic_aliases' => 5], 'option "topic_aliases" requires option "protocol" => "5" (MQTT 3.1.1 has no topic aliases)'],
            [['protocol' => '5', 'topic_aliases' => -1], 'option "topic_aliases" must be an integer between 0 (none) and 65535 (topics), got -1'],
            [['protocol' => '5', 'topic_aliases' => 'all'], 'option "topic_aliases" must be an integer between 0 (none) and 65535 (topics), got "all"'],
        ] as [$options, $expected]) {
            try {
                new Client($this->options($options), 'bad-' . $this->uniq());
                $this->fail('accepted ' . json_encode($options));
            } catch (ConfigException $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
    }

    private function connected(WireTap $tap, array $overrides): Client
    {
        $client = $this->client($this->options(['protocol' => '5', 'host' => '127.0.0.1', 'port' => $tap->port()] + $overrides));
        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        return $client;
    }
}
