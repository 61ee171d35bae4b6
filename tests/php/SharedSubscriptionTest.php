<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;

/**
 * Daemons sharing one stream through a $share group on one Mosquitto: three
 * Mqtt\Subscriber processes with persistent sessions; one is SIGKILLed in the
 * middle of a steady QoS 1 stream and started again. Mosquitto keeps assigning
 * the absent member its share and keeps what it had not acknowledged (README,
 * "What Mosquitto does with a shared subscription"), so the restarted member
 * gets those: every message is handled, the only duplicates are what the killed
 * one handled and had not acknowledged yet, and the split is about even.
 * Prints (on stderr) the split, what waited for the killed member and the duplicates.
 */
final class SharedSubscriptionTest extends MqttTestCase
{
    /** Mosquitto's max_inflight_messages: QoS 1 messages sent to one client and not yet acknowledged. */
    private const BROKER_INFLIGHT = 20;
    private const INTERVAL_US = 2_000;
    private const BEFORE_KILL = 600;
    private const WHILE_KILLED = 400;
    private const AFTER_RESTART = 400;

    public function testAKilledMemberLosesNothingAndTheSplitIsEven(): void
    {
        $broker = Broker::start(['max_inflight_messages ' . self::BROKER_INFLIGHT]);
        $topic = $this->topic('jobs');
        $filter = '$share/workers/' . $topic;
        $workers = [];
        foreach (['a', 'b', 'c'] as $name) {
            $workers[$name] = $this->startWorker($broker, $name, $filter);
        }
        $publisher = $this->client($this->options(['qos' => 1, 'max_queue' => 10_000], $broker));
        $this->assertTrue($publisher->waitConnected(10.0));

        $sent = [];
        $this->publish($publisher, $topic, self::BEFORE_KILL, $sent);
        $beforeKill = array_map(fn (PhpChild $worker) => count($this->handled($worker)), $workers);
        $killed = $workers['b'];
        $killed->kill();
        $this->publish($publisher, $topic, self::WHILE_KILLED, $sent);
        $restarted = $this->startWorker($broker, 'b', $filter);
        $this->publish($publisher, $topic, self::AFTER_RESTART, $sent);
        $this->assertTrue($publisher->flush(20.0), json_encode($publisher->status()));

        $runs = ['a' => $workers['a'], 'b (killed)' => $killed, 'b (restarted)' => $restarted, 'c' => $workers['c']];
        $deadline = microtime(true) + 30.0;
        while (array_diff($sent, $this->allHandled($runs)) !== [] && microtime(true) < $deadline) {
            usleep(50_000);
        }
        $all = $this->allHandled($runs);
        $missing = array_values(array_diff($sent, $all));
        $this->assertSame([], array_slice($missing, 0, 20), sprintf(
            "%d of %d messages were handled by no worker\n%s\nbroker log:\n%s",
            count($missing),
            count($sent),
            implode("\n", array_map(fn (string $name) => "$name: " . $runs[$name]->describe(), array_keys($runs))),
            Failure::tail($broker->log(), 30)
        ));

        $counts = array_count_values($all);
        $duplicates = array_keys(array_filter($counts, fn (int $times) => $times > 1));
        $this->assertLessThanOrEqual(self::BROKER_INFLIGHT, count($all) - count($counts), 'duplicates are at most what was in flight to the killed member');
        $this->assertSame([], array_values(array_diff($duplicates, $this->handled($killed))), 'only what the killed member had handled came twice');
        $this->assertSame([], array_values(array_diff($duplicates, $this->handled($restarted, true))), 'and the broker sent it again flagged as a duplicate');

        $whileAllRan = array_sum($beforeKill);
        foreach ($beforeKill as $name => $count) {
            $this->assertGreaterThanOrEqual(intdiv($whileAllRan, 5), $count, "worker $name's share while all three ran: " . json_encode($beforeKill));
        }
        $publishedBeforeRestart = array_slice($sent, 0, self::BEFORE_KILL + self::WHILE_KILLED);
        $waited = array_intersect($this->handled($restarted), $publishedBeforeRestart);
        fwrite(STDERR, sprintf(
            "\nSharedSubscriptionTest: %d QoS 1 messages at one per %d ms to three members of a \$share group; handled before the kill: %s;"
            . " %d waited in the killed member's session for its restart, %d of them flagged as sent before; %d handled twice\n",
            count($sent),
            self::INTERVAL_US / 1000,
            json_encode($beforeKill),
            count($waited),
            count($this->handled($restarted, true)),
            count($all) - count($counts)
        ));
    }

    /**
     * A worker: a persistent session in the group, handling each message in 8 ms,
     * slower than the stream comes, so that the broker has a full window of
     * messages in flight to each member when one is killed.
     */
    private function startWorker(Broker $broker, string $name, string $filter): PhpChild
    {
        $clientId = "worker-$name-" . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $worker = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'worker');
            $subscriber = new Mqtt\Subscriber([$client]);
            $subscriber->subscribe(%s, 1, 10.0);
            echo "subscribed\n";
            $subscriber->loop(function (Mqtt\Message $m): void {
                usleep(8000);
                echo "handled {$m->payload}", $m->duplicate ? ' duplicate' : '', "\n";
            });
            PHP, var_export($options, true), var_export($filter, true)));
        $worker->waitForLine('subscribed');
        $deadline = microtime(true) + 10.0;
        while ($broker->subscribes($clientId) === []) {
            if (microtime(true) >= $deadline) {
                Failure::raise("the broker never confirmed a subscription of $clientId\n" . $worker->describe());
            }
            usleep(10_000);
        }
        return $worker;
    }

    /** Publishes $count more messages at a steady rate. */
    private function publish(\Mqtt\Client $publisher, string $topic, int $count, array &$sent): void
    {
        for ($i = 0; $i < $count; $i++) {
            $publisher->publish($topic, $sent[] = 'j-' . count($sent));
            usleep(self::INTERVAL_US);
        }
    }

    /** @return list<string> the payloads a worker handled so far; with $redelivered, only those the broker flagged as sent before */
    private function handled(PhpChild $worker, bool $redelivered = false): array
    {
        $payloads = [];
        foreach ($worker->lines() as $line) {
            if (preg_match('/^handled (\S+)( duplicate)?$/', $line, $match) && (!$redelivered || isset($match[2]))) {
                $payloads[] = $match[1];
            }
        }
        return $payloads;
    }

    /**
     * @param array<string, PhpChild> $runs
     * @return list<string> what all of them handled, a payload as often as it was handled
     */
    private function allHandled(array $runs): array
    {
        return array_merge(...array_values(array_map(fn (PhpChild $run) => $this->handled($run), $runs)));
    }
}
