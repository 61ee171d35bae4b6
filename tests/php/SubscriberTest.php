<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\StreamPublisher;

/**
 * Mqtt\Subscriber in this process against a real mosquitto: routing by
 * filter, prefixes, several brokers and subscribers, payloads, back-pressure
 * and argument checks. Messages come from mosquitto_pub, not from the extension.
 *
 * @group protocol
 */
final class SubscriberTest extends MqttTestCase
{
    /**
     * Over MQTT 3.1.1 a message matching several filters of one connection comes once
     * (Mosquitto 2.0's default) or once per matching filter (2.1's default: a copy is
     * indistinguishable from a message published again, so each goes to every matching
     * subscriber; README, "Mosquitto versions"). Tests of overlapping filters say which
     * they expect; MQTT 5 routes each copy by its subscription identifier either way.
     */
    private const ONE_COPY_PER_CLIENT = 'allow_duplicate_messages false';

    public function testWildcardAndExactFiltersGetWhatMqttSaysTheyMatch(): void
    {
        // Its own broker: a "#" subscriber sees everything published on it.
        $broker = Broker::start([self::ONE_COPY_PER_CLIENT]);
        $client = $this->connectedClient($this->options([], $broker));
        $base = 'w/' . $this->uniq();
        $dollar = '$dollar-' . $this->uniq();

        $filters = [
            'exact' => "$base/a/b",
            'plus' => "$base/+/b",
            'hash' => "$base/a/#",
            'one level' => "$base/+",
            'all below' => "$base/#",
            'leading plus' => '+/' . $this->uniq() . '/+/+',
            'everything' => '#',
            'dollar exact' => "$dollar/a/b",
            'dollar hash' => "$dollar/#",
            'plus then exact' => '+/a/b',
        ];
        $subscribers = [];
        foreach ($filters as $name => $filter) {
            $subscribers[$name] = new Subscriber([$client]);
            $subscribers[$name]->subscribe($filter, 1);
        }

        $published = ["$base/a/b", "$base/a/c", "$base/x/b", "$base/a/b/c", "$base/a", "$dollar/a/b", "$dollar/a/c", 'w/a/b', "$base/a/b/c/d"];
        foreach ($published as $topic) {
            $broker->mosquittoPub($topic, "to $topic");
        }

        $expected = [
            'exact' => ["$base/a/b"],
            'plus' => ["$base/a/b", "$base/x/b"],
            'hash' => ["$base/a/b", "$base/a/c", "$base/a/b/c", "$base/a", "$base/a/b/c/d"],
            'one level' => ["$base/a"],
            'all below' => ["$base/a/b", "$base/a/c", "$base/x/b", "$base/a/b/c", "$base/a", "$base/a/b/c/d"],
            'leading plus' => ["$base/a/b", "$base/a/c", "$base/x/b"],
            'everything' => ["$base/a/b", "$base/a/c", "$base/x/b", "$base/a/b/c", "$base/a", 'w/a/b', "$base/a/b/c/d"],
            // Topics starting with '$' only for filters that name that first level.
            'dollar exact' => ["$dollar/a/b"],
            'dollar hash' => ["$dollar/a/b", "$dollar/a/c"],
            'plus then exact' => ['w/a/b'],
        ];

        foreach ($expected as $name => $topics) {
            $messages = $this->collect($subscribers[$name], count($topics), "\"{$filters[$name]}\"", $broker);
            $this->assertSame($topics, array_map(fn (Message $m) => $m->topic, $messages), "filter \"{$filters[$name]}\" ($name)");
            $this->assertSame(array_map(fn ($t) => "to $t", $topics), array_map(fn (Message $m) => $m->payload, $messages));
        }
        // The last message published matches "#": once it is in, every earlier one went where it goes.
        foreach ($subscribers as $name => $subscriber) {
            $this->assertNull($subscriber->next(0.2), "filter \"{$filters[$name]}\" ($name) got more than it matches");
        }
    }

    public function testMessageCarriesItsProperties(): void
    {
        $client = $this->connectedClient($this->options(), 'props-' . $this->uniq());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('#'), 1);
        $before = microtime(true);
        static::broker()->mosquittoPub($this->topic('q1'), 'one', 1);
        static::broker()->mosquittoPub($this->topic('q0'), 'zero', 0);
        static::broker()->mosquittoPub($this->topic('kept'), 'retained', 1, true);

        [$q1, $q0, $live] = $this->collect($subscriber, 3, 'all three');
        $this->assertInstanceOf(Message::class, $q1);
        $this->assertSame($this->topic('q1'), $q1->topic);
        $this->assertSame('one', $q1->payload);
        $this->assertSame('props-' . $this->uniq(), $q1->broker, 'broker is the name of the connection');
        $this->assertSame(1, $q1->qos);
        $this->assertFalse($q1->retain);
        $this->assertFalse($q1->duplicate);
        $this->assertIsFloat($q1->receivedAt);
        $this->assertGreaterThanOrEqual($before - 1, $q1->receivedAt);
        $this->assertLessThanOrEqual(microtime(true) + 1, $q1->receivedAt);
        $this->assertSame(0, $q0->qos);
        $this->assertSame('retained', $live->payload);
        $this->assertFalse($live->retain, 'a message published while subscribed is delivered live, without retain');

        // Subscribing later: the broker sends the retained message with the flag.
        $late = new Subscriber([$client]);
        $late->subscribe($this->topic('kept'), 1);
        $retained = $this->collect($late, 1, 'the retained message')[0];
        $this->assertSame('retained', $retained->payload);
        $this->assertTrue($retained->retain);
        static::broker()->mosquittoPub($this->topic('kept'), '', 1, true);

        try {
            $q1->topic = 'changed';
            $this->fail('a Message property could be written');
        } catch (\Throwable) {
            $this->assertSame($this->topic('q1'), $q1->topic, 'read-only');
        }
    }

    public function testPrefixIsAddedToFiltersAndRemovedFromTopics(): void
    {
        $broker = static::broker();
        $prefix = 'app-' . $this->uniq() . '/';
        $client = $this->connectedClient($this->options(['prefix' => $prefix]));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe('sensors/+/temp', 1);
        $subscriber->subscribe('$share/grp/jobs/#', 1);

        $broker->mosquittoPub('sensors/kitchen/temp', 'without prefix: not ours');
        $broker->mosquittoPub($prefix . 'sensors/kitchen/temp', '21.5');
        $broker->mosquittoPub($prefix . 'jobs/mail/1', 'job');

        $messages = $this->collect($subscriber, 2, 'the prefixed messages', $broker);
        $this->assertSame(['sensors/kitchen/temp', 'jobs/mail/1'], array_map(fn (Message $m) => $m->topic, $messages));
        $this->assertSame(['21.5', 'job'], array_map(fn (Message $m) => $m->payload, $messages));
        $this->assertNull($subscriber->next(0.2));

        $clientId = $client->status()['client_id'];
        $subscriptions = $broker->subscriptions($clientId);
        $this->assertContains("{$prefix}sensors/+/temp (QoS 1)", $subscriptions, 'the broker got the filter with the prefix');
        $this->assertContains("\$share/grp/{$prefix}jobs/# (QoS 1)", $subscriptions, 'the prefix goes after the $share/{group}/ head');
        $this->assertCount(2, $broker->subscribes($clientId));
    }

    public function testOneSubscriberReceivesFromTwoBrokersTaggedWithTheConnectionName(): void
    {
        $primaryBroker = Broker::start();
        $backupBroker = Broker::start();
        $primary = $this->connectedClient($this->options([], $primaryBroker), 'primary-' . $this->uniq());
        $backup = $this->connectedClient($this->options([], $backupBroker), 'backup-' . $this->uniq());
        $subscriber = new Subscriber([$primary, $backup]);
        $subscriber->subscribe('alerts/#', 1);

        $primaryBroker->mosquittoPub('alerts/fire', 'p1');
        $backupBroker->mosquittoPub('alerts/flood', 'b1');
        $primaryBroker->mosquittoPub('alerts/fire', 'p2');
        $backupBroker->mosquittoPub('alerts/quake', 'b2');

        $byPayload = [];
        foreach ($this->collect($subscriber, 4, 'messages of both brokers') as $message) {
            $byPayload[$message->payload] = [$message->broker, $message->topic];
        }
        ksort($byPayload);
        $this->assertSame([
            'b1' => ['backup-' . $this->uniq(), 'alerts/flood'],
            'b2' => ['backup-' . $this->uniq(), 'alerts/quake'],
            'p1' => ['primary-' . $this->uniq(), 'alerts/fire'],
            'p2' => ['primary-' . $this->uniq(), 'alerts/fire'],
        ], $byPayload);
        $this->assertNull($subscriber->next(0.2));

        // Each broker got the subscription once.
        foreach ([[$primaryBroker, $primary], [$backupBroker, $backup]] as [$broker, $client]) {
            $this->assertCount(1, $broker->subscribes($client->status()['client_id']));
        }
    }

    /**
     * What a broker that sends one copy per matching filter (Mosquitto 2.1's default,
     * allow_duplicate_messages true) means for two subscribers of one connection whose
     * filters overlap: over MQTT 5 each gets the message once (the copies carry their
     * subscription identifiers); over MQTT 3.1.1 each gets every copy.
     */
    public function testOverlappingFiltersOnABrokerThatSendsACopyPerFilter(): void
    {
        $broker = Broker::start(['allow_duplicate_messages true']);
        $options = $this->options([], $broker);
        $client = $this->connectedClient($options);
        $all = new Subscriber([$client]);
        $all->subscribe($this->topic('copies/#'), 1);
        $one = new Subscriber([$client]);
        $one->subscribe($this->topic('copies/x'), 1);

        $broker->mosquittoPub($this->topic('copies/x'), 'once');
        $broker->mosquittoPub($this->topic('copies/end'), 'marker');

        $copies = ($options['protocol'] ?? '3.1.1') === '5' ? 1 : 2;
        $this->assertSame(array_merge(array_fill(0, $copies, 'once'), ['marker']), $this->payloads($this->collect($all, $copies + 1, 'copies/#')));
        $this->assertSame(array_fill(0, $copies, 'once'), $this->payloads($this->collect($one, $copies, 'copies/x')));
        $this->assertNull($one->next(0.2));
    }

    public function testTwoSubscribersOnOneConnectionEachGetWhatTheirFiltersMatch(): void
    {
        $broker = Broker::start([self::ONE_COPY_PER_CLIENT]);
        $client = $this->connectedClient($this->options([], $broker));
        $first = new Subscriber([$client]);
        $second = new Subscriber([$client]);
        $first->subscribe($this->topic('common/#'), 1);
        $first->subscribe($this->topic('only1'), 1);
        $second->subscribe($this->topic('common/+'), 1);
        $second->subscribe($this->topic('only2'), 1);
        // The same filter in both: one subscription at the broker, delivered to both.
        $first->subscribe($this->topic('same'), 1);
        $second->subscribe($this->topic('same'), 1);

        foreach (['common/x', 'only1', 'only2', 'common/x/y', 'same'] as $suffix) {
            $broker->mosquittoPub($this->topic($suffix), $suffix);
        }

        $this->assertSame(['common/x', 'only1', 'common/x/y', 'same'], $this->payloads($this->collect($first, 4, 'first subscriber')));
        $this->assertSame(['common/x', 'only2', 'same'], $this->payloads($this->collect($second, 3, 'second subscriber')));
        $this->assertNull($first->next(0.2));
        $this->assertNull($second->next(0.2));

        // One unsubscribes the shared filter: the other keeps it.
        $first->unsubscribe($this->topic('same'));
        $broker->mosquittoPub($this->topic('same'), 'same-after');
        $broker->mosquittoPub($this->topic('common/z'), 'marker');
        $this->assertSame(['same-after', 'marker'], $this->payloads($this->collect($second, 2, 'second subscriber after the first unsubscribed')));
        $this->assertSame(['marker'], $this->payloads($this->collect($first, 1, 'first subscriber after it unsubscribed')));
        $this->assertNull($first->next(0.2));
    }

    public function testUnsubscribeStopsDelivery(): void
    {
        $broker = static::broker();
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('gone/+'), 1);
        $subscriber->subscribe($this->topic('kept'), 1);

        $broker->mosquittoPub($this->topic('gone/1'), 'before');
        $this->assertSame(['before'], $this->payloads($this->collect($subscriber, 1, 'the message before unsubscribe')));

        $subscriber->unsubscribe($this->topic('gone/+'));
        $broker->mosquittoPub($this->topic('gone/2'), 'after');
        $broker->mosquittoPub($this->topic('kept'), 'marker');
        $this->assertSame(['marker'], $this->payloads($this->collect($subscriber, 1, 'the marker')), 'nothing arrives on a filter after unsubscribe()');
        $this->assertNull($subscriber->next(0.2));

        $clientId = $client->status()['client_id'];
        $this->assertNotSame([], $broker->unsubscribes($clientId), 'the broker was told');

        // Unsubscribing something never subscribed is harmless.
        $subscriber->unsubscribe($this->topic('never'));
    }

    public function testBinaryPayloadsArriveByteExact(): void
    {
        $broker = static::broker();
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('bin/+'), 1);

        $payloads = [
            'all bytes' => implode('', array_map('chr', range(0, 255))),
            'nuls' => "\0\0\0",
            'nul inside' => "before\0after\r\n\xff",
            'reversed bytes' => implode('', array_map('chr', range(255, 0))),
            '1 MB' => random_bytes(1024 * 1024),
        ];
        $i = 0;
        foreach ($payloads as $payload) {
            $broker->mosquittoPub($this->topic('bin/' . $i++), $payload);
        }
        // An empty payload, from the extension's own publisher.
        $this->client($this->options())->publishSync($this->topic('bin/empty'), '', 1, timeout: 10);
        $payloads['empty'] = '';

        $messages = $this->collect($subscriber, count($payloads), 'the binary payloads');
        foreach (array_values($payloads) as $index => $expected) {
            $name = array_keys($payloads)[$index];
            $actual = $messages[$index]->payload;
            $this->assertSame(strlen($expected), strlen($actual), "$name: length");
            $this->assertTrue($expected === $actual, "$name: bytes differ (md5 " . md5($expected) . ' expected, got ' . md5($actual) . ')');
        }
    }

    public function testBoundedInboxHoldsBackTheBrokerWithoutLosingAnything(): void
    {
        // No in-flight limit at the broker: only the subscriber's inbox holds the stream back.
        $broker = Broker::start(['max_inflight_messages 0']);
        $client = $this->connectedClient($this->options([], $broker));
        $subscriber = new Subscriber([$client], ['max_inbox' => 10]);
        $topic = $this->topic('pressure');
        $subscriber->subscribe($topic, 1);

        $expected = array_map(fn ($i) => "p-$i", range(1, 2000));
        $publisher = StreamPublisher::start($broker, $topic, $expected);
        $received = [];
        $handled = $subscriber->loop(function (Message $message) use (&$received): void {
            $received[] = $message->payload;
            // Slower than the broker: the inbox fills and the connection stops reading.
            usleep(500);
        }, timeout: 60.0, limit: count($expected));

        $publisher->wait();
        $this->assertSame(count($expected), $handled, sprintf("loop() ended early\nbroker log:\n%s", Failure::tail($broker->log(), 30)));
        $this->assertSame($expected, $received, 'every message, in order');
        $this->assertNull($subscriber->next(0.2), 'no duplicates');
        $this->assertTrue($client->status()['connected'], 'the connection survived being held back');
        $this->assertSame(0, $client->status()['reconnects']);
    }

    /**
     * keep_alive 1 is MQTT 3.1.1 only.
     *
     * @group short-keep-alive
     */
    public function testAFullInboxDoesNotCostTheConnectionItsKeepAlive(): void
    {
        $broker = Broker::start();
        // mosquitto drops a client that sends nothing for 1.5 x keep_alive (checked every few seconds).
        $client = $this->connectedClient($this->options(['keep_alive' => 1], $broker));
        $subscriber = new Subscriber([$client], ['max_inbox' => 1]);
        $topic = $this->topic('long-jobs');
        $subscriber->subscribe($topic, 1);
        foreach (range(1, 5) as $i) {
            $broker->mosquittoPub($topic, "job-$i");
        }

        $handled = [];
        $subscriber->loop(function (Message $message) use (&$handled): void {
            $handled[] = $message->payload . ($message->duplicate ? ' (again)' : '');
            if (count($handled) === 1) {
                // A long job: meanwhile the inbox is full and the connection holds back.
                sleep(8);
            }
        }, timeout: 30.0, limit: 5);

        $this->assertSame(['job-1', 'job-2', 'job-3', 'job-4', 'job-5'], $handled);
        $clientId = $client->status()['client_id'];
        $this->assertSame(
            [],
            $broker->keepAliveTimeouts($clientId),
            'the broker dropped the connection while the inbox was full: keep-alive pings stopped with the reading'
        );
        $this->assertSame(0, $client->status()['reconnects'], json_encode($client->status()));
    }

    public function testLoopStopsAtItsLimitAndNextGoesOnFromThere(): void
    {
        $broker = static::broker();
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('limit'), 1);
        foreach (range(1, 5) as $i) {
            $broker->mosquittoPub($this->topic('limit'), "l-$i");
        }

        $seen = [];
        $this->assertSame(3, $subscriber->loop(function (Message $m) use (&$seen): void {
            $seen[] = $m->payload;
        }, timeout: 20.0, limit: 3));
        $this->assertSame(['l-1', 'l-2', 'l-3'], $seen);
        $this->assertSame(['l-4', 'l-5'], $this->payloads($this->collect($subscriber, 2, 'the rest')));
        $this->assertSame(0, $subscriber->loop(fn () => null, timeout: 0.2), 'loop() returns after its timeout with nothing handled');
    }

    public function testStopIsSticky(): void
    {
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('stop'), 1);
        static::broker()->mosquittoPub($this->topic('stop'), 'a');
        static::broker()->mosquittoPub($this->topic('stop'), 'b');

        $handled = $subscriber->loop(function (Message $m) use ($subscriber): void {
            $subscriber->stop();
        }, timeout: 20.0);
        $this->assertSame(1, $handled, 'stop() inside the handler ends loop() after that message');

        $started = microtime(true);
        $this->assertNull($subscriber->next(10.0), 'next() after stop()');
        $this->assertSame(0, $subscriber->loop(fn () => null, timeout: 10.0), 'loop() after stop()');
        $this->assertSame(0, $subscriber->loop(fn () => null), 'loop() without a timeout after stop()');
        $this->assertLessThan(5.0, microtime(true) - $started, 'after stop(), next() and loop() return at once');
    }

    public function testNextReturnsNullAfterItsTimeout(): void
    {
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('quiet'), 1);

        $started = microtime(true);
        $this->assertNull($subscriber->next(0.3));
        $waited = microtime(true) - $started;
        $this->assertGreaterThanOrEqual(0.25, $waited, 'next() waited for its timeout');
        $this->assertLessThan(10.0, $waited);
        $this->assertNull($subscriber->next(0.0), 'a zero timeout polls');
    }

    public function testHandlerExceptionPropagatesUnchangedAndLeavesTheMessageUnacknowledged(): void
    {
        $broker = static::broker();
        $client = $this->connectedClient($this->options());
        $clientId = $client->status()['client_id'];
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('throw'), 1);
        $broker->mosquittoPub($this->topic('throw'), 'poison');

        $thrown = new HandlerFailed('the handler gave up', 42);
        try {
            $subscriber->loop(function (Message $m) use ($thrown): void {
                throw $thrown;
            }, timeout: 20.0);
            $this->fail('loop() returned although the handler threw');
        } catch (HandlerFailed $caught) {
            $this->assertSame($thrown, $caught, 'the very exception the handler threw');
            $this->assertSame('the handler gave up', $caught->getMessage());
            $this->assertSame(42, $caught->getCode());
            $this->assertNull($caught->getPrevious());
        }

        // The next message is handled and acknowledged; the broker never got a PUBACK for the first.
        $broker->mosquittoPub($this->topic('throw'), 'fine');
        $payloads = [];
        $this->assertSame(1, $subscriber->loop(function (Message $m) use (&$payloads): void {
            $payloads[] = $m->payload;
        }, timeout: 20.0, limit: 1));
        $this->assertSame(['fine'], $payloads);
        $broker->requireMosquitto('a log line for each PUBACK it receives (log_type all)');
        $pubacks = fn () => $broker->logLinesMatching('/Received PUBACK from ' . preg_quote($clientId, '/') . ' /');
        $deadline = microtime(true) + 10;
        while (count($pubacks()) < 1 && microtime(true) < $deadline) {
            usleep(20_000);
        }
        $this->assertCount(1, $pubacks(), "one PUBACK (for \"fine\"), none for the message whose handler threw:\n" . implode("\n", $pubacks()));
    }

    public function testSubscriberNeedsAtLeastOneClient(): void
    {
        $this->expectException(\ValueError::class);
        $this->expectExceptionMessageMatches('/\$clients/');
        new Subscriber([]);
    }

    public function testSubscriberAcceptsOnlyClients(): void
    {
        $client = $this->client($this->options());
        foreach ([['not a client'], [$client, new \stdClass()], [42]] as $clients) {
            try {
                new Subscriber($clients);
                $this->fail('accepted ' . json_encode($clients));
            } catch (\ValueError $e) {
                $this->assertStringContainsString('$clients', $e->getMessage());
            }
        }
    }

    public function testBadMaxInboxIsAConfigException(): void
    {
        $client = $this->client($this->options());
        foreach ([0, -1, 'many', 1_000_001, 1.5, [10]] as $bad) {
            try {
                new Subscriber([$client], ['max_inbox' => $bad]);
                $this->fail('max_inbox ' . var_export($bad, true) . ' was accepted');
            } catch (ConfigException $e) {
                $this->assertStringContainsString('max_inbox', $e->getMessage(), 'for ' . var_export($bad, true));
            }
        }
        try {
            new Subscriber([$client], ['max_inbx' => 10]);
            $this->fail('an unknown option was accepted');
        } catch (ConfigException $e) {
            $this->assertStringContainsString('"max_inbx"', $e->getMessage());
            $this->assertStringContainsString('max_inbox', $e->getMessage(), 'suggests the near miss');
        }
        // Numeric strings are fine, as env() returns them.
        $this->assertInstanceOf(Subscriber::class, new Subscriber([$client], ['max_inbox' => '5']));
    }

    public function testBadFiltersThrowValueErrorNamingTheArgument(): void
    {
        $client = $this->client($this->options());
        $subscriber = new Subscriber([$client]);
        $bad = [
            'empty' => '',
            '+ inside a level' => 'a/b+',
            '# inside a level' => 'a/b#',
            '# not last' => 'a/#/b',
            'NUL' => "a/\0/b",
            'too long' => str_repeat('a', 65536),
            'share without filter' => '$share/group',
            'share with empty group' => '$share//a',
            'share with empty filter' => '$share/group/',
            'share with wildcard group' => '$share/gr+oup/a',
            'bad filter after share' => '$share/group/a/#/b',
        ];
        foreach ($bad as $why => $filter) {
            foreach (['subscribe', 'unsubscribe'] as $method) {
                try {
                    $subscriber->$method($filter);
                    $this->fail("$method() accepted a filter with $why");
                } catch (\ValueError $e) {
                    $this->assertStringContainsString('$filter', $e->getMessage(), "$method(), $why");
                }
            }
        }
        try {
            $subscriber->subscribe($this->topic('fine'), 3);
            $this->fail('QoS 3 was accepted');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('$qos', $e->getMessage());
        }
        try {
            $subscriber->next(-1.0);
            $this->fail('a negative timeout was accepted');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('timeout', $e->getMessage());
        }
        try {
            $subscriber->loop(fn () => null, timeout: 1.0, limit: -1);
            $this->fail('a negative limit was accepted');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('$limit', $e->getMessage());
        }
    }

    public function testPrefixThatMakesAFilterInvalidIsReported(): void
    {
        // Valid alone, a filter starting with '#' is not valid after a prefix.
        $subscriber = new Subscriber([$this->client($this->options(['prefix' => 'app/']))]);
        try {
            $subscriber->subscribe('#', 1);
            $this->addToAssertionCount(1);
        } catch (\ValueError $e) {
            $this->fail('"#" under a prefix is "app/#", a valid filter: ' . $e->getMessage());
        }
    }

    /** A client whose connection is up, so that subscribe() waits for the broker's SUBACK. */
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

    /** @param list<Message> $messages */
    private function payloads(array $messages): array
    {
        return array_map(fn (Message $m) => $m->payload, $messages);
    }
}

/** A handler's own exception class, to see it arrive unchanged. */
final class HandlerFailed extends \RuntimeException
{
}
