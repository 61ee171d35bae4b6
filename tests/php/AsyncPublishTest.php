<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Event;
use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * publish() enqueues and returns; the background runtime delivers every message.
 *
 * @group protocol
 */
final class AsyncPublishTest extends MqttTestCase
{
    private const COUNT = 10_000;

    public function testTenThousandQos1MessagesArriveByteForByteAfterFlush(): void
    {
        $topic = $this->topic('bulk');
        $listener = $this->listen($topic);
        $client = $this->client($this->options(['max_queue' => self::COUNT]));

        $expected = [];
        for ($i = 0; $i < self::COUNT; $i++) {
            $client->publish($topic, "msg-$i", 1);
            $expected[] = "msg-$i";
        }
        $this->assertTrue($client->flush(10), 'flush(10) returned false: ' . json_encode($client->status()));

        $status = $client->status();
        $this->assertSame(self::COUNT, $status['published']);
        $this->assertSame(self::COUNT, $status['acknowledged']);
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);

        $listener->waitFor(self::COUNT, 60);
        $listener->sync();
        $messages = $listener->messages();
        $this->assertSame([$topic], array_values(array_unique(array_column($messages, 0))));
        $this->assertSameMultiset($expected, array_column($messages, 1), 'every payload exactly once');
    }

    /**
     * On an idle connection publish() writes a QoS 0 message itself. A broker
     * that stops reading fills the socket: one message is then written only in
     * part (the runtime writes the rest), the next ones wait in the outbox.
     * Every one must arrive whole and in order once the broker reads again.
     */
    public function testQos0MessagesWrittenWhileTheBrokerStallsArriveWholeAndInOrder(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('stalled');
        $reader = $this->client($this->options([], $broker));
        $subscriber = new Subscriber([$reader], ['max_inbox' => 1000]);
        $subscriber->subscribe($topic, 0);
        $client = $this->client($this->options([], $broker));
        $this->assertTrue($client->waitConnected(10.0), json_encode($client->status()));

        $count = 300;
        $payload = fn (int $i) => sprintf('%04d:', $i) . str_repeat(chr(ord('a') + $i % 26), 65_536);
        posix_kill($broker->pid(), SIGSTOP);
        try {
            for ($i = 0; $i < $count; $i++) {
                $client->publish($topic, $payload($i), 0);
            }
            $stalled = $client->status();
        } finally {
            posix_kill($broker->pid(), SIGCONT);
        }
        $this->assertGreaterThan(0, $stalled['queued'], 'the socket never filled: ' . json_encode($stalled));
        $this->assertTrue($client->flush(30.0), json_encode($client->status()));
        $this->assertSame($count, $client->status()['published']);

        $received = array_map(fn (Message $m) => $m->payload, $this->collect($subscriber, $count, 'the stalled stream', $broker));
        foreach ($received as $i => $message) {
            $this->assertSame($payload($i), $message, "message $i");
        }
        $this->assertSame(0, $client->status()['reconnects'], json_encode($client->status()));
    }

    /**
     * QoS 1 acknowledgements overtake QoS 2 flows, which keep their packet id until
     * PUBCOMP: an id must not be reused before, or two messages share one flow.
     */
    public function testMixedQos1AndQos2AreEachAcknowledgedOnce(): void
    {
        $topic = $this->topic('mixed');
        $listener = $this->listen($topic, null, 2);
        $client = $this->client($this->options(['max_inflight' => 5]));

        $expected = [];
        for ($i = 0; $i < 300; $i++) {
            $client->publish($topic, "m-$i", 1 + $i % 2);
            $expected[] = "m-$i";
        }
        $this->assertTrue($client->flush(20), 'flush(20) returned false: ' . json_encode($client->status()));
        $status = $client->status();
        $this->assertSame(300, $status['published'], 'nothing was sent twice: ' . json_encode($status));
        $this->assertSame(300, $status['acknowledged'], json_encode($status));
        $this->assertSame(0, $status['reconnects']);

        $listener->waitFor(300, 30);
        $listener->sync();
        $this->assertSameMultiset($expected, $listener->payloads(), 'every payload exactly once');
    }

    /** Brokers disconnect a client with more unacknowledged QoS 2 messages than they allow (Mosquitto: 20). */
    public function testPipelinedQos2StaysWithinTheBrokersInflightLimit(): void
    {
        $topic = $this->topic('qos2');
        $listener = $this->listen($topic, null, 2);
        $client = $this->client($this->options());

        $expected = [];
        for ($i = 0; $i < 500; $i++) {
            $client->publish($topic, "q2-$i", 2);
            $expected[] = "q2-$i";
        }
        $this->assertTrue($client->flush(10), 'flush(10) returned false: ' . json_encode($client->status()));
        $status = $client->status();
        $this->assertSame(0, $status['reconnects'], 'the broker dropped the connection: ' . $status['last_error']);
        $this->assertSame(500, $status['acknowledged']);

        $listener->waitFor(500);
        $listener->sync();
        $this->assertSameMultiset($expected, $listener->payloads(), 'every payload exactly once');
    }

    public function testStatusDescribesTheConnection(): void
    {
        $topic = $this->topic('status');
        $listener = $this->listen($topic);
        $options = $this->options();
        $client = $this->client($options, 'status-' . $this->uniq());
        $client->publishSync($topic, 'hello', 1);
        $listener->waitFor(1);

        $status = $client->status();
        $this->assertEqualsCanonicalizing(
            ['name', 'state', 'connected', 'reconnects', 'queued', 'in_flight', 'published', 'acknowledged', 'refused',
             'last_error', 'connected_since', 'session_present', 'client_id', 'host', 'port', 'server', 'servers'],
            array_keys($status)
        );
        $this->assertSame('status-' . $this->uniq(), $status['name']);
        $this->assertSame('connected', $status['state']);
        $this->assertTrue($status['connected']);
        $this->assertSame(0, $status['reconnects']);
        $this->assertSame($options['client_id'], $status['client_id']);
        $this->assertSame($options['host'], $status['host']);
        $this->assertSame($options['port'], $status['port']);
        $this->assertIsFloat($status['connected_since']);
        $this->assertEqualsWithDelta(microtime(true), $status['connected_since'], 600, 'a unix timestamp');
        $this->assertFalse($status['session_present'], 'a clean session');
        $this->assertSame(1, $status['published']);
        $this->assertSame(1, $status['acknowledged']);
        $this->assertSame(0, $status['refused']);
        $this->assertSame(1, $this->broker()->connectionCount($options['client_id']));
    }

    /**
     * A QoS 1 publish() nobody waits for, on a connection that expects no
     * messages: its PUBACK is read on PHP's thread at the next call, and the
     * extension's thread is not woken for each one; nor for the PUBACK of
     * a publishSync(), which reads it itself. Counted in a process of its
     * own, where that thread serves this one connection: it wakes for each
     * PUBACK (or twice) when it watches the socket throughout, and a few
     * times per 10 ms when it does not.
     */
    public function testAnIdlePublishersAcksAreReadAtItsNextCallNotByTheRuntime(): void
    {
        $topic = $this->topic('hushed');
        $listener = $this->listen($topic);
        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%1$s, 'hushed');
            $client->waitConnected(10.0) || exit(2);
            $runtime = array_filter(glob('/proc/self/task/*'), fn ($task) => trim(file_get_contents("$task/comm")) === 'mqtt-broadcast');
            count($runtime) === 1 || exit(3);
            $wakeups = function () use ($runtime): int {
                preg_match('/^voluntary_ctxt_switches:\s+(\d+)/m', file_get_contents(reset($runtime) . '/status'), $m);
                return (int) $m[1];
            };
            $before = $wakeups();
            for ($i = 0; $i < 600; $i++) {
                usleep(200);
                $client->publish(%2$s, "hushed-$i", 1);
            }
            $during = $wakeups() - $before;
            $flushed = $client->flush(10.0);
            $before = $wakeups();
            for ($i = 600; $i < 1200; $i++) {
                $client->publishSync(%2$s, "hushed-$i", 1, timeout: 5.0);
            }
            $synced = $wakeups() - $before;
            echo json_encode(['wakeups' => $during, 'synced_wakeups' => $synced, 'flushed' => $flushed] + $client->status()), "\n";
            PHP, var_export($this->options(), true), var_export($topic, true)));

        $this->assertSame(0, $result->exitCode, $result->describe());
        $report = json_decode($result->stdout, true);
        $this->assertIsArray($report, $result->describe());
        $this->assertTrue($report['flushed'], $result->stdout);
        $this->assertSame([1200, 1200, 0], [$report['published'], $report['acknowledged'], $report['in_flight']], $result->stdout);
        $this->assertLessThan(200, $report['wakeups'], 'the runtime thread was woken for a third of the PUBACKs or more: ' . $result->stdout);
        $this->assertLessThan(200, $report['synced_wakeups'], 'publishSync() reads its PUBACK itself, yet the runtime thread was woken for a third of them or more: ' . $result->stdout);
        $listener->waitFor(1200);
        $this->assertSame(array_map(fn ($i) => "hushed-$i", range(0, 1199)), $listener->payloads());
    }

    /**
     * With such publishes PHP's thread reads PUBACKs that free the in-flight
     * window, and the extension's thread, which takes no queued message
     * while the window is full, must hear of the room. A window of one, and
     * a broker that pauses now and then: the first publish of a pause is
     * written at once, the second waits in the queue; the PUBACKs come at
     * the pause's end. Every message arrives, in order, without waiting for
     * the keep-alive to move the queue on.
     */
    public function testIdlePublishesThroughAWindowOfOneAllArriveWhenTheBrokerPauses(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('window-of-one');
        $listener = $this->listen($topic, $broker);
        $client = $this->client($this->options(['max_inflight' => 1, 'keep_alive' => 60], $broker));
        $this->assertTrue($client->waitConnected(10.0));
        for ($i = 0; $i < 300; $i++) {
            if ($i % 3 === 0) {
                posix_kill($broker->pid(), SIGSTOP);
            }
            $client->publish($topic, "one-$i", 1);
            if ($i % 3 === 1) {
                posix_kill($broker->pid(), SIGCONT);
            }
            usleep(200);
        }

        $this->assertTrue($client->flush(10.0), json_encode($client->status()));
        $status = $client->status();
        $this->assertSame([300, 0, 0], [$status['acknowledged'], $status['queued'], $status['in_flight']]);
        $listener->waitFor(300);
        $this->assertSame(array_map(fn ($i) => "one-$i", range(0, 299)), $listener->payloads());
    }

    /**
     * After such a publish the broker goes away: the connection hears of it
     * soon, without another call, long before its keep-alive.
     */
    public function testABrokerLeavingAfterAnIdlePublishIsNoticedUnasked(): void
    {
        $broker = Broker::start();
        $client = $this->client($this->options(['keep_alive' => 60], $broker));
        $this->assertTrue($client->waitConnected(10.0));
        $client->publish($this->topic('leaving'), 'before', 1);
        $client->events();
        $broker->stop();
        $types = [];
        $deadline = microtime(true) + 10.0;
        while (!in_array('disconnected', $types, true) && microtime(true) < $deadline) {
            usleep(10_000);
            $types = array_merge($types, array_map(fn (Event $e) => $e->type, $client->events()));
        }
        $this->assertContains('disconnected', $types, 'keep_alive is 60 s');

        $broker->resume();
        $this->assertTrue($client->flush(10.0), json_encode($client->status()));
        $this->assertSame(1, $client->status()['acknowledged']);
    }
}
