function mpc = duplicate_bus
% Fault: bus number 3 appears twice.
% A four-bus case, valid except for this one fault (tests/test_validate.py).
mpc.version = '2';
mpc.baseMVA = 100;
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1	3	0	0	0	0	1	1	0	230	1	1.1	0.9;
	2	2	60	0	0	0	1	1	0	230	1	1.1	0.9;
	3	1	40	0	0	0	1	1	0	230	1	1.1	0.9;
	4	1	30	0	0	0	1	1	0	230	1	1.1	0.9;
	3	1	5	0	0	0	1	1	0	230	1	1.1	0.9;
];
%	bus	Pg	Qg	Qmax	Qmin	Vg	mBase	status	Pmax	Pmin
mpc.gen = [
	1	80	0	100	-100	1	100	1	150	0;
	2	50	0	100	-100	1	100	1	100	0;
];
%	fbus	tbus	r	x	b	rateA	rateB	rateC	ratio	angle	status	angmin	angmax
mpc.branch = [
	1	2	0.01	0.1	0	120	120	120	0	0	1	-360	360;
	1	3	0.01	0.12	0	120	120	120	0	0	1	-360	360;
	2	3	0.01	0.08	0	120	120	120	0	0	1	-360	360;
	3	4	0.01	0.15	0	100	100	100	0	0	1	-360	360;
	2	4	0.01	0.2	0	100	100	100	0	0	1	-360	360;
];
